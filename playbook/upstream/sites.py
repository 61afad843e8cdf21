"""Fetching one site: the unit of real work in the batch service.

Returns what was found or raises `SiteError` with a reason fit for a job's results.
It holds no database resources, so callers decide where it runs relative to sessions.
"""

import re
from dataclasses import dataclass

from playbook.upstream.fetch import get_html

_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class SiteError(Exception):
    """The site could not be read; the message says why."""


@dataclass(frozen=True)
class Site:
    domain: str
    http_status: int
    title: str | None


async def fetch_site(domain: str) -> Site:
    response = await get_html(f"http://{domain}/", error=SiteError)
    match = _TITLE.search(response.text)
    return Site(domain=domain, http_status=response.status_code, title=match.group(1).strip() if match else None)
