"""Reading one domain's sitemaps over HTTP: the unit of real work in the sitemap service.

Starts from the `Sitemap:` lines of `http://{domain}/robots.txt`, read by the standard
library's parser (`urllib.robotparser`: comments dropped, percent-escapes decoded), or
`/sitemap.xml` when robots.txt is missing or lists none; follows sitemap indexes; reads
gzipped sitemaps (`.xml.gz`, recognised by their bytes); accepts documents with or without
the sitemaps.org namespace. Returns plain data, or raises `CrawlError` with a reason fit
for a job's results. It holds no database resources, so callers decide where it runs
relative to sessions.

A domain fails as a whole, and nothing of it is kept, when any of its documents cannot be
read, when it lists more than `MAX_URLS_PER_DOMAIN` URLs or `MAX_SITEMAPS_PER_DOMAIN`
documents, when indexes are nested more than `MAX_INDEX_DEPTH` levels, or when a document
lists a URL this crawler does not follow (`refusal_of`): a partial list of URLs would pass
for the domain's whole site. Sitemaps may live on another host (robots.txt may say so),
but only at a public host name, over http or https on the default port, without user info.
"""

import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from playbook.app.hostnames import check_domain
from playbook.upstream.client import get_http_client
from playbook.upstream.fetch import UpstreamError

MAX_URLS_PER_DOMAIN = 10_000
MAX_SITEMAPS_PER_DOMAIN = 100
MAX_INDEX_DEPTH = 3
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the sitemaps protocol's limit, uncompressed
MAX_URL_LENGTH = 2048  # the sitemaps protocol's limit
_GZIP_MAGIC = b"\x1f\x8b"
_LASTMOD_MAX_LENGTH = 32  # the width of SitemapUrl.lastmod


class CrawlError(UpstreamError):
    """The domain's sitemaps could not be read; the message says why."""


def refusal_of(url: str) -> str | None:
    """Why the crawler does not fetch the sitemap at `url`, or None if it may."""
    if len(url) > MAX_URL_LENGTH:
        return f"a sitemap URL is longer than {MAX_URL_LENGTH} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"{url}: not an http or https URL"
    if parts.username is not None or parts.password is not None:
        return f"{url}: the URL carries user info"
    try:
        if parts.port is not None:
            return f"{url}: not on the default port"
        check_domain(parts.hostname or "")
    except ValueError as exc:
        return f"{url}: {exc}"
    return None


@dataclass(frozen=True)
class PageUrl:
    loc: str
    lastmod: str | None


@dataclass(frozen=True)
class Sitemap:
    """One sitemap document: an index of other sitemaps (no URLs of its own) or a set of URLs."""

    url: str
    kind: Literal["index", "urlset"]
    parent_url: str | None
    urls: tuple[PageUrl, ...] = ()


async def crawl_domain(domain: str) -> list[Sitemap]:
    """Every sitemap document of `domain`, each parent before its children."""
    crawl = _Crawl()
    for url in await _sitemaps_in_robots_txt(domain) or [f"http://{domain}/sitemap.xml"]:
        await crawl.visit(url, parent_url=None, depth=0)
    return crawl.sitemaps


@dataclass
class _Crawl:
    sitemaps: list[Sitemap] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)
    url_total: int = 0

    async def visit(self, url: str, *, parent_url: str | None, depth: int) -> None:
        if url in self.visited:
            return
        if depth > MAX_INDEX_DEPTH:
            raise CrawlError(f"{url}: sitemap indexes nested more than {MAX_INDEX_DEPTH} levels deep")
        if refusal := refusal_of(url):
            raise CrawlError(refusal)
        if len(self.visited) == MAX_SITEMAPS_PER_DOMAIN:
            raise CrawlError(f"more than {MAX_SITEMAPS_PER_DOMAIN} sitemap documents (the cap per domain)")
        self.visited.add(url)
        document = read_document(url, await _fetch_document(url))
        if document.kind == "index":
            self.sitemaps.append(Sitemap(url=url, kind="index", parent_url=parent_url))
            for child in document.children:
                await self.visit(child, parent_url=url, depth=depth + 1)
        else:
            self.url_total += len(document.urls)
            if self.url_total > MAX_URLS_PER_DOMAIN:
                raise CrawlError(f"more than {MAX_URLS_PER_DOMAIN} URLs (the cap per domain) at {url}")
            self.sitemaps.append(Sitemap(url=url, kind="urlset", parent_url=parent_url, urls=document.urls))


@dataclass(frozen=True)
class Document:
    """What one sitemap document lists: other sitemaps (an index) or page URLs (a urlset)."""

    kind: Literal["index", "urlset"]
    children: tuple[str, ...] = ()
    urls: tuple[PageUrl, ...] = ()


def read_document(url: str, body: bytes) -> Document:
    """The sitemap document `body` fetched from `url`, gzipped or not; `CrawlError` if it is none."""
    # By the bytes, not the name or content type: servers label .xml.gz in many ways.
    root = _parse_xml(url, _gunzip(url, body) if body.startswith(_GZIP_MAGIC) else body)
    kind = _local_name(root.tag)
    if kind == "sitemapindex":
        return Document(
            kind="index", children=tuple(entry["loc"] for entry in _entries(root, "sitemap") if entry.get("loc"))
        )
    if kind == "urlset":
        return Document(kind="urlset", urls=_page_urls(url, root))
    raise CrawlError(f"{url}: not a sitemap (root element <{kind}>)")


def sitemaps_listed(robots_txt: str) -> list[str]:
    """The sitemap URLs a robots.txt lists, as the standard library's parser reads them."""
    robots = RobotFileParser()
    robots.parse(robots_txt.splitlines())
    return [listed for listed in robots.site_maps() or [] if listed]


async def _sitemaps_in_robots_txt(domain: str) -> list[str]:
    url = f"http://{domain}/robots.txt"
    response = await _get(url)
    if response.status_code >= 500:
        raise CrawlError(f"{url}: HTTP {response.status_code}")
    if not response.is_success:
        return []  # no robots.txt: the site has not said where its sitemaps are
    return sitemaps_listed(response.text)


async def _fetch_document(url: str) -> bytes:
    response = await _get(url)
    if not response.is_success:
        raise CrawlError(f"{url}: HTTP {response.status_code}")
    return response.content


async def _get(url: str) -> httpx.Response:
    try:
        return await get_http_client().get(url)
    except httpx.TimeoutException as exc:
        raise CrawlError(f"{url}: timed out ({exc})") from exc
    except httpx.HTTPError as exc:
        raise CrawlError(f"{url}: request failed: {type(exc).__name__}: {exc}") from exc


def _gunzip(url: str, compressed: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        # Bounded: a small gzip file can expand to gigabytes.
        document = decompressor.decompress(compressed, MAX_DOCUMENT_BYTES)
    except zlib.error as exc:
        raise CrawlError(f"{url}: broken gzip data ({exc})") from exc
    if decompressor.unconsumed_tail:
        raise CrawlError(f"{url}: more than {MAX_DOCUMENT_BYTES} bytes once uncompressed")
    return document


def _parse_xml(url: str, document: bytes) -> ET.Element:
    try:
        return ET.fromstring(document)
    except ET.ParseError as exc:
        raise CrawlError(f"{url}: malformed XML ({exc})") from exc


def _local_name(tag: str) -> str:
    """`{http://www.sitemaps.org/schemas/sitemap/0.9}urlset` -> `urlset`; a tag without a namespace stays as it is."""
    return tag.rpartition("}")[2]


def _entries(root: ET.Element, name: str) -> Iterator[dict[str, str]]:
    """The `<sitemap>` or `<url>` children of `root`, each as {field: text}."""
    for entry in root:
        if _local_name(entry.tag) == name:
            yield {_local_name(child.tag): (child.text or "").strip() for child in entry}


def _page_urls(url: str, root: ET.Element) -> tuple[PageUrl, ...]:
    urls: dict[str, PageUrl] = {}
    for entry in _entries(root, "url"):
        loc, lastmod = entry.get("loc"), entry.get("lastmod")
        if loc and len(loc) > MAX_URL_LENGTH:
            raise CrawlError(f"{url}: lists a URL longer than {MAX_URL_LENGTH} characters")
        if loc and loc not in urls:
            # A longer value is no W3C datetime; it is dropped rather than cut.
            urls[loc] = PageUrl(loc=loc, lastmod=lastmod if lastmod and len(lastmod) <= _LASTMOD_MAX_LENGTH else None)
    return tuple(urls.values())
