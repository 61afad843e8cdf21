"""Crawling one site for e-mail addresses: the unit of real work in the e-mail scraper.

`crawl_site` walks a domain's pages breadth first from its home page: same site only
(http or https, the same host on its default port, no user info), at most `MAX_PAGES`
pages and `MAX_DEPTH` links away from the home page, links to files that are not web
pages and links longer than `MAX_URL_LENGTH` skipped unfetched. It yields each page's
outcome as it goes and holds no database resources, so callers decide where their
sessions open and close. It keeps no more links than it could still crawl, and its
patterns run in time linear in the page's length, so a hostile page costs no more than
its size.
"""

import html
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from playbook.upstream.fetch import UpstreamError, get_html, url_refusal

MAX_PAGES = 20
MAX_DEPTH = 2
# RFC 5321: a mailbox is at most 64 characters, @, a domain of at most 255; 320 in all.
MAX_LOCAL_PART = 64
MAX_EMAIL_DOMAIN = 255
NOT_WEB_PAGES = frozenset(
    {".pdf", ".jpg", ".jpeg", ".png", ".gif", ".svg", ".ico", ".css", ".js", ".zip", ".doc", ".docx", ".xls", ".xlsx"}
)

# Every repetition is bounded, and a match starts only where an address can (not inside a
# longer run of its characters), so no pattern backtracks over more than an address's length.
_EMAIL = re.compile(
    r"(?<![a-z0-9._+-])[a-z0-9][a-z0-9._+-]{0,63}@(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,63}(?![a-z0-9-])",
    re.IGNORECASE,
)
_MAILTO = re.compile(r"mailto:([^\"'\s?<>]{1,320})", re.IGNORECASE)
# "name [at] host [dot] test", "name(at)host.test", "name {at} host": the common spellings.
# The leading spaces are matched only from the start of a run of them.
_SPELLED_AT = re.compile(r"(?<!\s)\s{0,8}[\[({]\s{0,8}at\s{0,8}[\])}]\s{0,8}", re.IGNORECASE)
_SPELLED_DOT = re.compile(r"(?<!\s)\s{0,8}[\[({]\s{0,8}dot\s{0,8}[\])}]\s{0,8}", re.IGNORECASE)


class PageError(UpstreamError):
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
    # Only the first MAX_PAGES pages found can ever be crawled: no more are kept.
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
                if len(seen) == MAX_PAGES:
                    break
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
    found = (email.lower() for email in _EMAIL.findall(f"{readable} {mailto_targets}"))
    return frozenset(email for email in found if _fits_a_mailbox(email))


def _fits_a_mailbox(email: str) -> bool:
    local, _, domain = email.partition("@")
    return len(local) <= MAX_LOCAL_PART and len(domain) <= MAX_EMAIL_DOMAIN


def same_site_links(source: str, *, page_url: str, domain: str) -> list[str]:
    """The page's links to other web pages of `domain`, absolute, without fragments, in page order."""
    collector = _LinkCollector()
    collector.feed(source)
    return [url for href in collector.hrefs if _is_same_site_page(url := _absolute(page_url, href), domain)]


def _absolute(page_url: str, href: str) -> str:
    try:
        return urldefrag(urljoin(page_url, href.strip())).url
    except ValueError:  # an href urljoin cannot read ("http://[x"): not a link to follow
        return ""


def _is_same_site_page(url: str, domain: str) -> bool:
    if not url or url_refusal(url) is not None:
        return False
    parts = urlsplit(url)
    return parts.hostname == domain and PurePosixPath(parts.path).suffix.lower() not in NOT_WEB_PAGES


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)
