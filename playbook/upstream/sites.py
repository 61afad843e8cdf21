"""Fetching one site: the unit of real work in the batch service.

Returns what was found or raises `SiteError` with a reason fit for a job's results.
It holds no database resources, so callers decide where it runs relative to sessions.
"""

import re
from dataclasses import dataclass

from playbook.upstream.fetch import UpstreamError, get_html

MAX_TITLE_LENGTH = 1000
_OPENING = re.compile("<title>", re.IGNORECASE)
_CLOSING = re.compile("</title>", re.IGNORECASE)


class SiteError(UpstreamError):
    """The site could not be read; the message says why."""


@dataclass(frozen=True)
class Site:
    domain: str
    http_status: int
    title: str | None


async def fetch_site(domain: str) -> Site:
    response = await get_html(f"http://{domain}/", error=SiteError)
    return Site(domain=domain, http_status=response.status_code, title=page_title(response.text))


def page_title(source: str) -> str | None:
    """The text of the page's first `<title>`, at most `MAX_TITLE_LENGTH` characters; None without one."""
    # Two searches, not one lazy pattern: time linear in the page, however many unclosed
    # <title> tags it holds.
    opening = _OPENING.search(source)
    closing = _CLOSING.search(source, opening.end()) if opening else None
    if opening is None or closing is None:
        return None
    return source[opening.end() : closing.start()].strip()[:MAX_TITLE_LENGTH]
