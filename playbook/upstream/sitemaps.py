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

import asyncio
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from playbook.app.hostnames import check_domain
from playbook.upstream.client import get_http_client
from playbook.upstream.fetch import MAX_URL_LENGTH, UpstreamError, url_refusal

MAX_URLS_PER_DOMAIN = 10_000
MAX_SITEMAPS_PER_DOMAIN = 100
MAX_INDEX_DEPTH = 3
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the sitemaps protocol's limit, uncompressed
SLICE_BYTES = 32 * 1024  # documents are unpacked and parsed this much at a time
_GZIP_MAGIC = b"\x1f\x8b"
_LASTMOD_MAX_LENGTH = 32  # the width of SitemapUrl.lastmod


class CrawlError(UpstreamError):
    """The domain's sitemaps could not be read; the message says why."""


def refusal_of(url: str) -> str | None:
    """Why the crawler does not fetch the sitemap at `url`, or None if it may."""
    if refusal := url_refusal(url, kind="sitemap URL"):
        return refusal
    try:
        check_domain(urlsplit(url).hostname or "")
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
        document = await read_document(url, await _fetch_document(url))
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


async def read_document(url: str, body: bytes) -> Document:
    """The sitemap document `body` fetched from `url`, gzipped or not; `CrawlError` if it is none."""
    # By the bytes, not the name or content type: servers label .xml.gz in many ways.
    xml = await _gunzip(url, body) if body.startswith(_GZIP_MAGIC) else body
    reader = _DocumentReader(url)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    try:
        # A slice at a time, letting other tasks run in between, each entry read and dropped as
        # it ends: a document of MAX_DOCUMENT_BYTES never holds the event loop, nor memory, for long.
        for start in range(0, len(xml), SLICE_BYTES):
            parser.feed(xml[start : start + SLICE_BYTES])
            reader.read(parser.read_events())
            await asyncio.sleep(0)
        parser.close()
        reader.read(parser.read_events())
    except ET.ParseError as exc:
        raise CrawlError(f"{url}: malformed XML ({exc})") from exc
    return reader.document()


@dataclass
class _DocumentReader:
    """A sitemap's entries, read from the parser's events as each entry ends."""

    url: str
    root: ET.Element | None = None
    depth: int = 0
    children: list[str] = field(default_factory=list)
    urls: dict[str, PageUrl] = field(default_factory=dict)

    def read(self, events: Iterable[tuple[Any, ...]]) -> None:
        # Only "start" and "end" are asked for: each comes with its element.
        for event, element in events:
            if event == "start":
                self.depth += 1
                if self.depth == 1:
                    self._start(element)
                continue
            self.depth -= 1
            if self.depth == 1:
                self._entry(
                    _local_name(element.tag), {_local_name(child.tag): (child.text or "").strip() for child in element}
                )
        if self.root is not None:
            del self.root[:]  # the entries read so far

    def _start(self, root: ET.Element) -> None:
        if _local_name(root.tag) not in ("sitemapindex", "urlset"):
            raise CrawlError(f"{self.url}: not a sitemap (root element <{_local_name(root.tag)}>)")
        self.root = root

    def _entry(self, name: str, fields: dict[str, str]) -> None:
        assert self.root is not None
        loc = fields.get("loc")
        if not loc:
            return
        if _local_name(self.root.tag) == "sitemapindex":
            if name == "sitemap":
                self.children.append(loc)
            return
        if name != "url":
            return
        if len(loc) > MAX_URL_LENGTH:
            raise CrawlError(f"{self.url}: lists a URL longer than {MAX_URL_LENGTH} characters")
        lastmod = fields.get("lastmod")
        # A longer value is no W3C datetime; it is dropped rather than cut.
        self.urls.setdefault(
            loc, PageUrl(loc=loc, lastmod=lastmod if lastmod and len(lastmod) <= _LASTMOD_MAX_LENGTH else None)
        )

    def document(self) -> Document:
        assert self.root is not None
        if _local_name(self.root.tag) == "sitemapindex":
            return Document(kind="index", children=tuple(self.children))
        return Document(kind="urlset", urls=tuple(self.urls.values()))


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


async def _gunzip(url: str, compressed: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    parts: list[bytes] = []
    size, pending = 0, compressed
    try:
        while True:
            # At most a slice out per call, letting other tasks run in between; bounded in all,
            # since a small gzip file can expand to gigabytes.
            part = decompressor.decompress(pending, SLICE_BYTES) if pending else decompressor.flush()
            pending = decompressor.unconsumed_tail
            size += len(part)
            if size > MAX_DOCUMENT_BYTES:
                raise CrawlError(f"{url}: more than {MAX_DOCUMENT_BYTES} bytes once uncompressed")
            if not part and not pending:
                return b"".join(parts)
            parts.append(part)
            await asyncio.sleep(0)
    except zlib.error as exc:
        raise CrawlError(f"{url}: broken gzip data ({exc})") from exc


def _local_name(tag: str) -> str:
    """`{http://www.sitemaps.org/schemas/sitemap/0.9}urlset` -> `urlset`; a tag without a namespace stays as it is."""
    return tag.rpartition("}")[2]
