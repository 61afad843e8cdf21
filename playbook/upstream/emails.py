"""Crawling one site for e-mail addresses: the unit of real work in the e-mail scraper.

`crawl_site` walks a domain's pages breadth first from its home page: same host only,
at most `MAX_PAGES` pages and `MAX_DEPTH` links away from the home page, links to files
that are not web pages skipped unfetched. It yields each page's outcome as it goes and
holds no database resources, so callers decide where their sessions open and close.
"""

import html
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from playbook.upstream.fetch import get_html

MAX_PAGES = 20
MAX_DEPTH = 2
NOT_WEB_PAGES = frozenset(
    {".pdf", ".jpg", ".jpeg", ".png", ".gif", ".svg", ".ico", ".css", ".js", ".zip", ".doc", ".docx", ".xls", ".xlsx"}
)

_EMAIL = re.compile(r"[a-z0-9][a-z0-9._+-]*@(?:[a-z0-9-]+\.)+[a-z]{2,63}", re.IGNORECASE)
_MAILTO = re.compile(r"mailto:([^\"'\s?<>]+)", re.IGNORECASE)
# "name [at] host [dot] test", "name(at)host.test", "name {at} host": the common spellings.
_SPELLED_AT = re.compile(r"\s*[\[({]\s*at\s*[\])}]\s*", re.IGNORECASE)
_SPELLED_DOT = re.compile(r"\s*[\[({]\s*dot\s*[\])}]\s*", re.IGNORECASE)


class PageError(Exception):
    """The page could not be read; the message says why."""


@dataclass(frozen=True)
class PageScan:
    """One crawled page: the addresses on it, or why it could not be read."""

    url: str
    emails: frozenset[str] = frozenset()
    error: str | None = None


def home_page(domain: str) -> str:
    return f"http://{domain}/"


async def crawl_site(domain: str) -> AsyncIterator[PageScan]:
    """Yield the outcome of each page of `domain`, in the order the pages were crawled."""
    start = home_page(domain)
    frontier = deque([(start, 0)])
    seen = {start}
    crawled = 0
    while frontier and crawled < MAX_PAGES:
        url, depth = frontier.popleft()
        crawled += 1
        try:
            source = await fetch_page(url)
        except PageError as exc:
            yield PageScan(url=url, error=str(exc))
            continue
        yield PageScan(url=url, emails=extract_emails(source))
        if depth < MAX_DEPTH:
            for link in same_site_links(source, page_url=url, domain=domain):
                if link not in seen:
                    seen.add(link)
                    frontier.append((link, depth + 1))


async def fetch_page(url: str) -> str:
    """The HTML of the page at `url`, or `PageError`."""
    return (await get_html(url, error=PageError)).text


def extract_emails(source: str) -> frozenset[str]:
    """Every address in the page's HTML, plain or obfuscated, lowercased."""
    text = html.unescape(source)
    mailto_targets = " ".join(unquote(target) for target in _MAILTO.findall(text))
    readable = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", text))
    return frozenset(email.lower() for email in _EMAIL.findall(f"{readable} {mailto_targets}"))


def same_site_links(source: str, *, page_url: str, domain: str) -> list[str]:
    """The page's links to other web pages of `domain`, absolute, without fragments, in page order."""
    collector = _LinkCollector()
    collector.feed(source)
    links = []
    for href in collector.hrefs:
        url = urldefrag(urljoin(page_url, href.strip())).url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname != domain:
            continue
        if PurePosixPath(parts.path).suffix.lower() in NOT_WEB_PAGES:
            continue
        links.append(url)
    return links


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)
