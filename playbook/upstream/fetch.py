"""Reading an upstream's answer, with every way it can fail turned into a reason.

The services record these reasons per item, so they are short and fit for a job's results.
Each caller names the exception its own callers expect.
"""

import httpx

from playbook.upstream.client import get_http_client


async def get_ok(url: str, *, error: type[Exception], params: dict[str, str] | None = None) -> httpx.Response:
    """The answer at `url` if it came and is not an HTTP error; otherwise `error` with the reason."""
    try:
        response = await get_http_client().get(url, params=params)
    except httpx.TimeoutException as exc:
        raise error(f"timed out ({exc})") from exc
    except httpx.HTTPError as exc:
        raise error(f"request failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise error(f"HTTP {response.status_code}")
    return response


async def get_html(url: str, *, error: type[Exception]) -> httpx.Response:
    """`get_ok`, and `error` unless the answer is an HTML page."""
    response = await get_ok(url, error=error)
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/html"):
        raise error(f"not an HTML page ({content_type or 'no content-type'})")
    return response
