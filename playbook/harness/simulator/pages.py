"""The HTML pages of a simulated site.

Every home page is titled `Home of {host}`. The first label of the host picks the site:

| host            | pages                                                                          |
|-----------------|--------------------------------------------------------------------------------|
| `noemail-*`     | a home page and `/about`, with no e-mail address anywhere                      |
| `deep-*`        | a chain `/level-1` -> `/level-2` -> ... -> `/level-8`, one address per level   |
| `wide-*`        | a home page linking to `/page-1` ... `/page-40`, one address per page          |
| `broken-*`      | the standard site; its home also links to `/server-error` (HTTP 500) and `/download` (not HTML) |
| anything else   | the standard site, below                                                       |

The standard site: the home page links to `/about`, `/contact` and `/team`, to another
site, to a PDF and to `/old-news`, which does not exist (404). Its pages hold seven
addresses, written plainly, in a `mailto:` link (one percent-encoded), as HTML entities,
and obfuscated as `name [at] host [dot] test` and `name(at)host`; `info@` is on three pages.
"""

from collections.abc import Callable

from starlette.responses import HTMLResponse, Response

DEEP_LEVELS = 8
WIDE_PAGES = 40

Pages = dict[str, str | Response]


def page(host: str, path: str) -> Response:
    site = _SITES.get(host.split(".", 1)[0].split("-", 1)[0], _standard_site)
    content = site(host).get(path)
    if content is None:
        return Response("no such page", status_code=404)
    return content if isinstance(content, Response) else HTMLResponse(content)


def _html(title: str, *, body: str, links: list[str]) -> str:
    anchors = " ".join(f'<a href="{href}">{href}</a>' for href in links)
    return f"<html><head><title>{title}</title></head><body><nav>{anchors}</nav>{body}</body></html>"


def _standard_site(host: str, *, more_links: tuple[str, ...] = ()) -> Pages:
    spelled_out = host.replace(".", " [dot] ")
    home_links = [
        "/about",
        "/contact",
        "/team#people",
        "/old-news",
        "https://partner.test/",
        "/brochure.pdf",
        *more_links,
    ]
    return {
        "/": _html(
            f"Home of {host}",
            body=f'<h1>{host}</h1><p>Questions? <a href="mailto:Info@{host}">Write to us</a>.</p>',
            links=home_links,
        ),
        "/about": _html(
            f"About {host}",
            body=f"<p>Press: press [at] {spelled_out}. Anything else: info@{host}.</p>",
            links=["/", "/contact"],
        ),
        "/contact": _html(
            f"Contact {host}",
            body=(
                f"<p>Sales: sales(at){host}</p><p>Support: support&#64;{host}</p>"
                f'<p><a href="mailto:billing%40{host}?subject=Invoice">Billing</a></p><p>Or info@{host}</p>'
            ),
            links=["/", "/team"],
        ),
        "/team": _html(
            f"Team of {host}",
            body=f'<p id="people">Jane Doe, <a href="mailto:Jane.Doe@{host.upper()}">Jane.Doe@{host.upper()}</a></p>'
            f"<p>John Roe, &#106;ohn&#x40;{host}</p><p>Reach us all at info@{host}.</p>",
            links=["/", "/about"],
        ),
        "/brochure.pdf": Response(b"%PDF-1.4 brochure", media_type="application/pdf"),
    }


def _broken_site(host: str) -> Pages:
    return _standard_site(host, more_links=("/server-error", "/download")) | {
        "/server-error": Response("internal error", status_code=500),
        "/download": Response(b"\x00\x01 not a page", media_type="application/octet-stream"),
    }


def _site_without_emails(host: str) -> Pages:
    return {
        "/": _html(f"Home of {host}", body=f"<h1>{host}</h1>", links=["/about"]),
        "/about": _html(f"About {host}", body="<p>We answer by phone only.</p>", links=["/"]),
    }


def _deep_site(host: str) -> Pages:
    pages: Pages = {"/": _html(f"Home of {host}", body=f"<h1>{host}</h1>", links=["/level-1"])}
    for level in range(1, DEEP_LEVELS + 1):
        deeper = [f"/level-{level + 1}"] if level < DEEP_LEVELS else []
        pages[f"/level-{level}"] = _html(f"Level {level}", body=f"<p>level{level}@{host}</p>", links=["/", *deeper])
    return pages


def _wide_site(host: str) -> Pages:
    numbers = range(1, WIDE_PAGES + 1)
    pages: Pages = {"/": _html(f"Home of {host}", body=f"<h1>{host}</h1>", links=[f"/page-{n}" for n in numbers])}
    for n in numbers:
        pages[f"/page-{n}"] = _html(f"Page {n}", body=f"<p>page{n}@{host}</p>", links=["/"])
    return pages


_SITES: dict[str, Callable[[str], Pages]] = {
    "noemail": _site_without_emails,
    "deep": _deep_site,
    "wide": _wide_site,
    "broken": _broken_site,
}
