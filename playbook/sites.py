"""Fetching one site: the unit of real work in the batch service.

Returns what was found or raises `SiteError` with a reason fit for a job's results.
It holds no database resources, so callers decide where it runs relative to sessions.
"""

import re
from dataclasses import dataclass

import httpx

from playbook.upstream.client import get_http_client

_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class SiteError(Exception):
    """The site could not be read; the message says why."""


@dataclass(frozen=True)
class Site:
    domain: str
    http_status: int
    title: str | None


async def fetch_site(domain: str) -> Site:
    try:
        response = await get_http_client().get(f"http://{domain}/")
    except httpx.TimeoutException as exc:
        raise SiteError(f"timed out ({exc})") from exc
    except httpx.HTTPError as exc:
        raise SiteError(f"request failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise SiteError(f"HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/html"):
        raise SiteError(f"not an HTML page ({content_type or 'no content-type'})")
    match = _TITLE.search(response.text)
    return Site(domain=domain, http_status=response.status_code, title=match.group(1).strip() if match else None)
