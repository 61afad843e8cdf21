"""`make docs-check`: the built docs site, read in a real browser the way a reader reads it.

Builds the site strictly, serves `site/` with `python -m http.server` on a free 127.0.0.1
port and opens every page of the nav in Debian's headless Chromium through playwright, at
1440 and 390 px wide. Every request outside the served site is blocked, and the attempt is
a failure. A page fails when:

- it logs a console error or throws;
- a mermaid diagram is left as text (fewer diagrams drawn than the page has sources);
- a catalog error message is hidden by overflow: from where the message starts to the end
  of its line, some of it lies outside the visible box of an element that clips or scrolls
  it (a code block, a table). Logs and tracebacks (``` text blocks) must not scroll
  sideways at all: they wrap (`docs/stylesheets/messages.css`); code may scroll;
- the page itself is wider than the window;
- it has fewer copy buttons than code blocks, or its Standardized/Legacy tab sets do not
  switch together when "Legacy" is clicked (at 1440 px).

Search: each catalog message, typed into the search box, must find its catalog entry
first: the first result is the catalog page and its best-scored section is that entry or
one of its parts (`#f9`, or its Synopsis, Migration or Discussion, `#f9-synopsis`).
The palette toggle must switch to dark. Full-page screenshots go to
`reports/screenshots/<page>-<width>.png` (and `home-dark.png`).

Run as `python -m playbook.docs_tools.check`; prints one line per page, width and query,
then one line per problem, and exits non-zero when there is any.
"""

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mkdocs.config import load_config
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from playbook.app.settings import PROJECT_ROOT
from playbook.helpers import child_env, child_process, free_port, wait_until_serving

SITE = PROJECT_ROOT / "site"
REPORTS = PROJECT_ROOT / "reports"
SCREENSHOTS = REPORTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (1440, 390)
# From this width on, no catalog message may be hidden anywhere; below it only in logs and prose.
DESKTOP = 1200
HEIGHT = 900
STARTUP_SECONDS = 10.0
TIMEOUT_MS = 15_000
MERMAID_SOURCE = re.compile(r'<pre class="mermaid">')


@dataclass(frozen=True)
class CatalogMessage:
    """Text a reader pastes from an error, and the catalog entries (anchors) that explain it."""

    text: str
    entries: tuple[str, ...]


MISSING_GREENLET = ("f1", "f2", "f3")
# What a reader pastes: the message as its failure prints it (tests/ and `make tracebacks`
# show each), the part of it people quote, or the code of its link to SQLAlchemy's docs.
CATALOG_MESSAGES = (
    CatalogMessage(
        "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_() here. "
        "Was IO attempted in an unexpected place? (Background on this error at: https://sqlalche.me/e/21/xd2s)",
        MISSING_GREENLET,
    ),
    CatalogMessage("greenlet_spawn has not been called", MISSING_GREENLET),
    CatalogMessage("can't call await_only() here", MISSING_GREENLET),
    CatalogMessage("MissingGreenlet", MISSING_GREENLET),
    CatalogMessage("xd2s", MISSING_GREENLET),
    CatalogMessage("RuntimeWarning: coroutine 'AsyncSession.execute' was never awaited", ("f4",)),
    CatalogMessage("attached to a different loop", ("f5",)),
    CatalogMessage("Event loop is closed", ("f6",)),
    CatalogMessage("DetachedInstanceError", ("f7",)),
    CatalogMessage(
        "sqlalchemy.orm.exc.DetachedInstanceError: Instance <Job at 0x7f6ec9173650> is not bound to a Session; "
        "attribute refresh operation cannot proceed (Background on this error at: https://sqlalche.me/e/21/bhk3)",
        ("f7",),
    ),
    CatalogMessage("bhk3", ("f7",)),
    CatalogMessage("This Session has been permanently closed", ("f8",)),
    CatalogMessage("This session is provisioning a new connection; concurrent operations are not permitted", ("f9",)),
    CatalogMessage("Session is already flushing", ("f9",)),
    CatalogMessage("isce", ("f9",)),
    CatalogMessage("QueuePool limit", ("f10",)),
    CatalogMessage("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00", ("f10",)),
    CatalogMessage("3o7r", ("f10",)),
)
# Looked for on every page; the short error codes would match words, not messages.
HIDDEN_MESSAGES = [message.text for message in CATALOG_MESSAGES if len(message.text) > 4]

# Where a message starts, to the end of its line, that an element clipping it leaves out of
# view; and every ``` text block that scrolls sideways. One entry per finding.
OVERFLOW_JS = """([messages, everywhere]) => {
    const content = document.querySelector(".md-content");
    const clipping = (el) => {
        const found = [];
        for (let node = el; node && node !== content; node = node.parentElement)
            if (getComputedStyle(node).overflowX !== "visible") found.push(node);
        return found;
    };
    const rangeOf = (el, start, end) => {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        let offset = 0, node;
        while ((node = walker.nextNode())) {
            const next = offset + node.length;
            if (start >= offset && start <= next) range.setStart(node, start - offset);
            if (end >= offset && end <= next) { range.setEnd(node, end - offset); break; }
            offset = next;
        }
        return range;
    };
    const findings = [];
    for (const el of content.querySelectorAll("code")) {
        // On a phone, code and tables keep their lines and columns and scroll; logs wrap.
        if (!everywhere && !el.closest(".language-text") && el.closest(".highlight, table")) continue;
        const text = el.textContent;
        for (const message of messages) {
            for (let at = text.indexOf(message); at !== -1; at = text.indexOf(message, at + 1)) {
                const newline = text.indexOf("\\n", at);
                const rects = [...rangeOf(el, at, newline === -1 ? text.length : newline).getClientRects()]
                    .filter((rect) => rect.width > 0);
                const cut = clipping(el).some((clip) => {
                    const left = clip.getBoundingClientRect().left + clip.clientLeft;
                    return rects.some((rect) => rect.left < left - 1 || rect.right > left + clip.clientWidth + 1);
                });
                if (cut) findings.push(`error message hidden by overflow: "${message}"`);
            }
        }
    }
    for (const code of content.querySelectorAll(".language-text pre > code"))
        if (code.scrollWidth > code.clientWidth + 1)
            findings.push(`text block scrolls sideways: "${code.textContent.trim().split("\\n")[0].slice(0, 60)}"`);
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
        findings.push(`page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
    return findings;
}"""

# Code blocks in the article, and how many of them scroll sideways (reported, not failed).
CODE_BLOCKS_JS = """() => {
    const blocks = [...document.querySelectorAll(".md-content .highlight pre > code")];
    return [blocks.length, blocks.filter((code) => code.scrollWidth > code.clientWidth + 1).length];
}"""

# The label of the selected tab of every tab set on the page, in page order.
SELECTED_TABS_JS = """() => [...document.querySelectorAll(".tabbed-set")].map(set => {
    const checked = set.querySelector(":scope > input:checked");
    return set.querySelector(`:scope > .tabbed-labels > label[for="${checked.id}"]`).textContent.trim();
})"""

# The links of the first search result (the page, then its sections), with their scores.
FIRST_RESULT_JS = """() => {
    const first = document.querySelector(".md-search-result__item");
    return first ? [...first.querySelectorAll("a.md-search-result__link")].map((link) => {
        const url = new URL(link.href);
        return [url.pathname + url.hash, Number(link.querySelector("article").dataset.mdScore)];
    }) : [];
}"""
SEARCH_IDLE = "Type to start searching"


@dataclass(frozen=True)
class DocsPage:
    name: str
    path: str


@dataclass
class Visit:
    """One page open at one width, and what went wrong on it."""

    page: Page
    problems: list[str] = field(default_factory=list)


def nav_pages() -> list[DocsPage]:
    """Every page of the nav, in nav order, with the URL path mkdocs gives it."""
    config = load_config(str(PROJECT_ROOT / "mkdocs.yml"))
    return [DocsPage(_page_name(source), _page_path(source)) for source in _sources(config["nav"])]


def _sources(nav: Any) -> Iterator[str]:
    for item in nav:
        if isinstance(item, str):
            yield item
        else:
            for value in item.values():
                yield from [value] if isinstance(value, str) else _sources(value)


def _page_path(source: str) -> str:
    stem = source.removesuffix(".md")
    return "" if stem == "index" else f"{stem.removesuffix('/index')}/"


def _page_name(source: str) -> str:
    return "home" if source == "index.md" else source.removesuffix(".md").replace("/", "-")


def build_site() -> None:
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"], cwd=PROJECT_ROOT, check=True)


@contextmanager
def served_site() -> Iterator[str]:
    """Serve `site/` on 127.0.0.1 for the duration of the block; yield its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(SITE)]
    log_path = REPORTS / "docs-check-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with child_process(command, env=child_env(), log_path=log_path, shutdown_timeout=5) as server:
        base_url = f"http://127.0.0.1:{port}/"
        wait_until_serving(server, base_url, log_path=log_path, timeout=STARTUP_SECONDS)
        yield base_url


@contextmanager
def site_only_context(browser: Browser, base_url: str, width: int) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A light-scheme browser context that blocks, and records, every request outside the site."""
    context = browser.new_context(color_scheme="light", viewport={"width": width, "height": HEIGHT})
    outside: list[str] = []

    def keep_inside_site(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(f"requested outside the site: {route.request.url}")
            route.abort()

    context.route("**/*", keep_inside_site)
    try:
        yield context, outside
    finally:
        context.close()


@contextmanager
def visit(context: BrowserContext, url: str, outside: list[str]) -> Iterator[Visit]:
    """Open `url` in a new tab that records console errors, page errors and outside requests."""
    opened = Visit(context.new_page())

    def record_console_error(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.problems.append(f"console error: {message.text}")

    opened.page.on("console", record_console_error)
    opened.page.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))
    opened.page.set_default_timeout(TIMEOUT_MS)
    outside.clear()
    try:
        opened.page.goto(url, wait_until="load")
        yield opened
    finally:
        opened.problems.extend(outside)
        opened.page.close()


def check_diagrams(opened: Visit, docs_page: DocsPage) -> str:
    """Every mermaid source of the page is drawn: the theme replaces each by a `div.mermaid`."""
    sources = len(MERMAID_SOURCE.findall((SITE / docs_page.path / "index.html").read_text()))
    if not sources:
        return "no diagrams"
    try:
        opened.page.wait_for_function("n => document.querySelectorAll('div.mermaid').length >= n", arg=sources)
    except PlaywrightTimeout:
        pass
    heights = opened.page.evaluate("() => [...document.querySelectorAll('div.mermaid')].map(d => d.offsetHeight)")
    drawn = sum(1 for height in heights if height > 0)
    if drawn < sources:
        opened.problems.append(f"{sources - drawn} of {sources} mermaid diagrams left as text")
    return f"{drawn}/{sources} diagrams drawn"


def check_overflow(opened: Visit, width: int) -> str:
    findings = opened.page.evaluate(OVERFLOW_JS, [HIDDEN_MESSAGES, width >= DESKTOP])
    opened.problems.extend(findings)
    blocks, scrolling = opened.page.evaluate(CODE_BLOCKS_JS)
    return f"{blocks} code blocks ({scrolling} scroll sideways), {len(findings)} hidden"


def check_copy_buttons(opened: Visit) -> None:
    blocks = opened.page.locator(".md-content .highlight pre code").count()
    copy_buttons = opened.page.locator(".md-content button.md-code__button[data-md-type='copy']").count()
    if copy_buttons < blocks:
        opened.problems.append(f"{blocks} code blocks but {copy_buttons} copy buttons")


def _selected_tabs(page: Page) -> list[str]:
    selected: list[str] = page.evaluate(SELECTED_TABS_JS)
    return selected


def check_linked_tabs(opened: Visit) -> str | None:
    """Standardized is selected first everywhere; one click on Legacy selects Legacy everywhere."""
    if opened.page.locator(".tabbed-labels > label", has_text="Legacy").count() == 0:
        return None
    before = _selected_tabs(opened.page)
    if set(before) != {"Standardized"}:
        opened.problems.append(f"tab sets should all open on Standardized, found {before}")
    opened.page.locator(".tabbed-labels > label", has_text="Legacy").first.click()
    after = _selected_tabs(opened.page)
    if set(after) != {"Legacy"}:
        opened.problems.append(f"clicking Legacy should switch every tab set, found {after}")
    opened.page.locator(".tabbed-labels > label", has_text="Standardized").first.click()
    return f"{len(before)} tab sets switch together"


def check_dark_toggle(opened: Visit) -> None:
    opened.page.locator("[title='Switch to dark mode']").first.click()
    scheme = opened.page.evaluate("() => document.body.getAttribute('data-md-color-scheme')")
    if scheme != "slate":
        opened.problems.append(f"the palette toggle should switch to the dark scheme, body says {scheme!r}")


def screenshot(opened: Visit, name: str) -> str:
    path = SCREENSHOTS / f"{name}.png"
    # From the top, so the sticky header is drawn where it belongs.
    opened.page.evaluate("() => window.scrollTo(0, 0)")
    opened.page.screenshot(path=path, full_page=True)
    return str(path.relative_to(PROJECT_ROOT))


def check_page(
    context: BrowserContext, outside: list[str], base_url: str, docs_page: DocsPage, width: int
) -> list[str]:
    with visit(context, base_url + docs_page.path, outside) as opened:
        findings = [check_diagrams(opened, docs_page), check_overflow(opened, width)]
        check_copy_buttons(opened)
        shot = screenshot(opened, f"{docs_page.name}-{width}")
        if width == WIDTHS[0]:
            findings.append(check_linked_tabs(opened) or "no linked tabs")
    # After the visit: it adds the requests that tried to leave the site when it closes.
    verdict = "ok" if not opened.problems else f"{len(opened.problems)} problems"
    print(f"{docs_page.name:<28} {width:>4} px  {verdict:<11} {', '.join(findings)}; {shot}")
    return [f"{docs_page.name} at {width} px: {problem}" for problem in opened.problems]


def within_entry(location: str, entries: tuple[str, ...]) -> bool:
    """Whether `location` (relative to the site) is one of the catalog `entries` or a part of one."""
    return any(location == f"catalog/#{entry}" or location.startswith(f"catalog/#{entry}-") for entry in entries)


def search(page: Page, query: str) -> list[tuple[str, float]]:
    """Type `query` into the search box; the first result's links and scores, page first."""
    box = page.locator("input.md-search__input")
    box.fill("")
    box.press("End")
    page.wait_for_function(f"() => document.querySelector('.md-search-result__meta').textContent === {SEARCH_IDLE!r}")
    box.fill(query)
    # The theme searches on key presses, not on a value set from outside.
    box.press("End")
    page.wait_for_function(f"() => document.querySelector('.md-search-result__meta').textContent !== {SEARCH_IDLE!r}")
    return [(location, score) for location, score in page.evaluate(FIRST_RESULT_JS)]


def check_search_and_dark_toggle(context: BrowserContext, outside: list[str], base_url: str) -> list[str]:
    """Each catalog message finds its entry first: catalog page first, its best section the entry.
    Then the palette toggle switches Home to dark (the theme remembers it: in a context of its own)."""
    base_path = urlsplit(base_url).path
    with visit(context, base_url, outside) as opened:
        opened.page.locator("input.md-search__input").click()
        for message in CATALOG_MESSAGES:
            links = search(opened.page, message.text)
            sections = sorted((link for link in links if "#" in link[0]), key=lambda link: -link[1])
            best = sections[0][0] if sections else links[0][0] if links else "nothing"
            top = best.removeprefix(base_path)
            expected = " or ".join(f"catalog/#{entry}" for entry in message.entries)
            found = within_entry(top, message.entries)
            shown = message.text if len(message.text) <= 60 else f"{message.text[:57]}..."
            print(f"search {shown!r:<64} first: {top:<14} {'ok' if found else f'FAIL, expected {expected}'}")
            if not found:
                opened.problems.append(f"search for {message.text!r} ranks {top} first, not {expected}")
        opened.page.keyboard.press("Escape")
        check_dark_toggle(opened)
        screenshot(opened, "home-dark")
    return [f"search and palette: {problem}" for problem in opened.problems]


def main() -> int:
    build_site()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = nav_pages()
    problems: list[str] = []
    with served_site() as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                with site_only_context(browser, base_url, width) as (context, outside):
                    for docs_page in pages:
                        problems.extend(check_page(context, outside, base_url, docs_page, width))
            with site_only_context(browser, base_url, WIDTHS[0]) as (context, outside):
                problems.extend(check_search_and_dark_toggle(context, outside, base_url))
        finally:
            browser.close()
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(
        f"docs-check: {len(pages)} pages at {' and '.join(map(str, WIDTHS))} px, "
        f"{len(CATALOG_MESSAGES)} searches, {len(problems)} problems; screenshots in "
        f"{SCREENSHOTS.relative_to(PROJECT_ROOT)}/"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
