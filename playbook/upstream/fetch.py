"""Reading an upstream's answer, with every way it can fail turned into a reason.

The services record these reasons per item, so they are short and fit for a job's results:
each module's error is an `UpstreamError`, whose message is cut to `MAX_REASON` characters
(upstreams choose content types, URLs and error messages of any length). Each caller
names the exception its own callers expect.
"""

from urllib.parse import urlsplit

import httpx

from playbook.upstream.client import get_http_client

MAX_REASON = 300
MAX_URL_LENGTH = 2048  # the sitemaps protocol's limit, kept for every URL the services follow


class UpstreamError(Exception):
    """Something upstream could not be read; the message, at most `MAX_REASON` characters, says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason if len(reason) <= MAX_REASON else f"{reason[: MAX_REASON - 1]}…")


def url_refusal(url: str, *, kind: str = "URL") -> str | None:
    """Why `url` is not fetched (too long, not http or https, user info, a port named), or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"a {kind} is longer than {MAX_URL_LENGTH} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"{url}: not an http or https URL"
    if parts.username is not None or parts.password is not None:
        return f"{url}: the URL carries user info"
    try:
        if parts.port is not None:
            return f"{url}: not on the default port"
    except ValueError as exc:  # a port that is no number
        return f"{url}: {exc}"
    return None


async def get_ok(url: str, *, error: type[UpstreamError], params: dict[str, str] | None = None) -> httpx.Response:
    """The answer at `url` if it came and is a success (2xx); otherwise `error` with the reason."""
    try:
        response = await get_http_client().get(url, params=params)
    except httpx.TimeoutException as exc:
        raise error(f"timed out ({exc})") from exc
    except httpx.HTTPError as exc:
        raise error(f"request failed: {type(exc).__name__}: {exc}") from exc
    if response.is_redirect:
        raise error(f"HTTP {response.status_code} (redirects are not followed)")
    if not response.is_success:
        raise error(f"HTTP {response.status_code}")
    return response


async def get_html(url: str, *, error: type[UpstreamError]) -> httpx.Response:
    """`get_ok`, and `error` unless the answer is an HTML page."""
    response = await get_ok(url, error=error)
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/html"):
        raise error(f"not an HTML page ({content_type or 'no content-type'})")
    return response
