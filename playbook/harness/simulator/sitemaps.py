"""robots.txt and the sitemaps of a simulated site, chosen by the host's first label.

| host            | robots.txt                      | sitemaps                                            |
|-----------------|---------------------------------|-----------------------------------------------------|
| `flat-*`        | no `Sitemap:` line              | `/sitemap.xml`: one urlset of 3 URLs, see below     |
| `norobots-*`    | 404                             | `/sitemap.xml`: one urlset of 2 URLs                |
| `malformed-*`   | lists `/sitemap.xml`            | XML cut off in the middle of an element             |
| `huge-*`        | lists `/sitemap.xml`            | one urlset of `HUGE_URLSET_SIZE` URLs               |
| `deep-*`        | lists `/sitemap-deep-1.xml`     | indexes nested without end, each listing the next   |
| `nositemap-*`   | 404                             | 404                                                 |
| anything else   | lists `/sitemap_index.xml`      | the default tree below                              |

The default tree, 5 documents and 7 URLs:

    /sitemap_index.xml            index
      /sitemap-pages.xml          urlset: /, /about, /contact
      /sitemap-posts.xml.gz       urlset, gzipped: /posts/hello-world, /posts/second-post
      /sitemap-archive.xml        index
        /sitemap-archive-2023.xml urlset: /2023/01, /2023/02

The `flat-*` urlset is written the sloppy way: no namespace, one URL listed twice, and a
`lastmod` that is no date.

Every document is built from the host name alone, so the same host always gets the same bytes.
"""

import gzip
import re

from starlette.responses import PlainTextResponse, Response

SITEMAP_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
HUGE_URLSET_SIZE = 12_000  # more than the services' cap of 10,000 URLs per domain

# path -> (kind, entries); an entry is (path, lastmod or None)
_DEFAULT_TREE: dict[str, tuple[str, list[tuple[str, str | None]]]] = {
    "/sitemap_index.xml": (
        "sitemapindex",
        [("/sitemap-pages.xml", "2024-05-01"), ("/sitemap-posts.xml.gz", "2024-03-08"), ("/sitemap-archive.xml", None)],
    ),
    "/sitemap-pages.xml": ("urlset", [("/", "2024-05-01"), ("/about", "2024-04-12"), ("/contact", None)]),
    "/sitemap-posts.xml.gz": (
        "urlset",
        [("/posts/hello-world", "2024-03-01T09:30:00+00:00"), ("/posts/second-post", "2024-03-08")],
    ),
    "/sitemap-archive.xml": ("sitemapindex", [("/sitemap-archive-2023.xml", "2023-12-31")]),
    "/sitemap-archive-2023.xml": ("urlset", [("/2023/01", "2023-01-31"), ("/2023/02", "2023-02-28")]),
}


def serves(path: str) -> bool:
    return path == "/robots.txt" or path.startswith("/sitemap")


def document(host: str, path: str) -> Response:
    layout = host.split(".", 1)[0].split("-", 1)[0]
    if path == "/robots.txt":
        return _robots_txt(host, layout)
    body = _sitemap_body(host, layout, path)
    if body is None:
        return Response("no such sitemap", status_code=404)
    if path.endswith(".gz"):
        return Response(gzip.compress(body.encode(), mtime=0), media_type="application/x-gzip")
    return Response(body, media_type="application/xml")


def _robots_txt(host: str, layout: str) -> Response:
    if layout in ("norobots", "nositemap"):
        return Response("no such page", status_code=404)
    rules = "User-agent: *\nDisallow: /admin/\n"
    if layout == "flat":
        return PlainTextResponse(rules)
    listed = {"malformed": "/sitemap.xml", "huge": "/sitemap.xml", "deep": "/sitemap-deep-1.xml"}
    return PlainTextResponse(f"{rules}\nSitemap: http://{host}{listed.get(layout, '/sitemap_index.xml')}\n")


def _sitemap_body(host: str, layout: str, path: str) -> str | None:
    if layout == "nositemap":
        return None
    if layout == "deep":
        level = _DEEP_PATH.fullmatch(path)
        return _sitemap_xml(host, "sitemapindex", [(f"/sitemap-deep-{int(level[1]) + 1}.xml", None)]) if level else None
    if layout in _SINGLE_URLSETS:
        return _SINGLE_URLSETS[layout](host) if path == "/sitemap.xml" else None
    if path not in _DEFAULT_TREE:
        return None
    kind, entries = _DEFAULT_TREE[path]
    return _sitemap_xml(host, kind, entries)


def _flat_urlset(host: str) -> str:
    urls = (
        f"<url><loc>http://{host}/</loc></url>"
        f"<url><loc>http://{host}/pricing</loc><lastmod>2024-02-29</lastmod></url>"
        f"<url><loc>http://{host}/blog</loc><lastmod>sometime in the spring of 2024, we think</lastmod></url>"
        f"<url><loc>http://{host}/pricing</loc></url>"
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset>{urls}</urlset>\n'


def _norobots_urlset(host: str) -> str:
    return _sitemap_xml(host, "urlset", [("/", "2024-01-15"), ("/faq", "2024-01-16")])


def _malformed_urlset(host: str) -> str:
    return f'<?xml version="1.0"?>\n<urlset xmlns="{SITEMAP_NAMESPACE}">\n<url><loc>http://{host}/</loc></url>\n<url><loc>http://'


def _huge_urlset(host: str) -> str:
    return _sitemap_xml(host, "urlset", [(f"/items/{n}", None) for n in range(1, HUGE_URLSET_SIZE + 1)])


_SINGLE_URLSETS = {
    "flat": _flat_urlset,
    "norobots": _norobots_urlset,
    "malformed": _malformed_urlset,
    "huge": _huge_urlset,
}
_DEEP_PATH = re.compile(r"/sitemap-deep-(\d+)\.xml")


def _sitemap_xml(host: str, kind: str, entries: list[tuple[str, str | None]]) -> str:
    entry_tag = "sitemap" if kind == "sitemapindex" else "url"
    lines = [
        f"<{entry_tag}><loc>http://{host}{path}</loc>"
        + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
        + f"</{entry_tag}>"
        for path, lastmod in entries
    ]
    body = "\n".join(lines)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{kind} xmlns="{SITEMAP_NAMESPACE}">\n{body}\n</{kind}>\n'
