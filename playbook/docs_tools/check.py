"""`make docs-check`: the built docs site, looked at in a real browser.

Builds the site strictly, serves `site/` with `python -m http.server` on a free 127.0.0.1
port and opens the key pages in Debian's headless Chromium through playwright. A page
fails when it logs a console error, asks for anything outside the site, has no code
blocks, or (where it has Standardized/Legacy tabs) clicking "Legacy" does not switch
every linked tab set on it; the site fails when search finds nothing for
"MissingGreenlet" or the palette toggle does not switch to dark. Full-page screenshots,
light and dark, go to `reports/screenshots/`.

Run as `python -m playbook.docs_tools.check`; exits non-zero with one line per problem.
"""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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
SEARCH_TERM = "MissingGreenlet"
STARTUP_SECONDS = 10.0
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class KeyPage:
    name: str
    path: str
    linked_tabs: bool


KEY_PAGES = (
    KeyPage("home", "", linked_tabs=True),
    KeyPage("standard", "standard/", linked_tabs=False),
    KeyPage("batch", "services/batch/", linked_tabs=True),
    KeyPage("catalog", "catalog/", linked_tabs=False),
    KeyPage("sitemap", "services/sitemap/", linked_tabs=True),
    KeyPage("pitfalls", "pitfalls/", linked_tabs=False),
)

# The label of the selected tab of every tab set on the page, in page order.
SELECTED_TABS_JS = """() => [...document.querySelectorAll(".tabbed-set")].map(set => {
    const checked = set.querySelector(":scope > input:checked");
    return set.querySelector(`:scope > .tabbed-labels > label[for="${checked.id}"]`).textContent.trim();
})"""


@dataclass
class Visit:
    """One key page open in its own browser context, and what went wrong on it."""

    page: Page
    problems: list[str] = field(default_factory=list)


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
def visit(browser: Browser, base_url: str, key_page: KeyPage) -> Iterator[Visit]:
    """Open a key page in a fresh light-scheme context that records errors and outside requests."""
    context: BrowserContext = browser.new_context(color_scheme="light", viewport={"width": 1280, "height": 900})
    opened = Visit(context.new_page())

    def keep_inside_site(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            opened.problems.append(f"requested outside the site: {route.request.url}")
            route.abort()

    def record_console_error(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.problems.append(f"console error: {message.text}")

    context.route("**/*", keep_inside_site)
    opened.page.on("console", record_console_error)
    opened.page.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))
    opened.page.set_default_timeout(TIMEOUT_MS)
    try:
        opened.page.goto(base_url + key_page.path, wait_until="networkidle")
        yield opened
    finally:
        context.close()


def check_code_blocks(opened: Visit) -> str:
    blocks = opened.page.locator(".highlight pre code").count()
    copy_buttons = opened.page.locator("button.md-code__button[data-md-type='copy']").count()
    if blocks == 0:
        opened.problems.append("no code blocks")
    if copy_buttons < blocks:
        opened.problems.append(f"{blocks} code blocks but {copy_buttons} copy buttons")
    return f"{blocks} code blocks"


def _selected_tabs(page: Page) -> list[str]:
    selected: list[str] = page.evaluate(SELECTED_TABS_JS)
    return selected


def check_linked_tabs(opened: Visit) -> str:
    """Standardized is selected first everywhere; one click on Legacy selects Legacy everywhere."""
    before = _selected_tabs(opened.page)
    if not before or set(before) != {"Standardized"}:
        opened.problems.append(f"tab sets should all open on Standardized, found {before}")
    opened.page.locator(".tabbed-labels > label", has_text="Legacy").first.click()
    after = _selected_tabs(opened.page)
    if set(after) != {"Legacy"}:
        opened.problems.append(f"clicking Legacy should switch every tab set, found {after}")
    opened.page.locator(".tabbed-labels > label", has_text="Standardized").first.click()
    return f"{len(before)} tab sets switch together"


def check_search(opened: Visit) -> str:
    opened.page.locator("input.md-search__input").click()
    opened.page.keyboard.type(SEARCH_TERM)
    results = opened.page.locator(".md-search-result__item")
    try:
        results.first.wait_for(state="visible")
    except PlaywrightTimeout:
        opened.problems.append(f"search for {SEARCH_TERM} showed no results within {TIMEOUT_MS} ms")
        return "search found nothing"
    found = results.count()
    opened.page.keyboard.press("Escape")
    return f"search for {SEARCH_TERM}: {found} results"


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


def check_key_page(browser: Browser, base_url: str, key_page: KeyPage) -> list[str]:
    with visit(browser, base_url, key_page) as opened:
        light = screenshot(opened, f"{key_page.name}-light")
        findings = [check_code_blocks(opened)]
        if key_page.linked_tabs:
            findings.append(check_linked_tabs(opened))
        if key_page.name == "home":
            findings.append(check_search(opened))
        check_dark_toggle(opened)
        dark = screenshot(opened, f"{key_page.name}-dark")
        print(f"{key_page.name:<9} {', '.join(findings)}; {light}, {dark}")
        return [f"{key_page.name}: {problem}" for problem in opened.problems]


def main() -> int:
    build_site()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with served_site() as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for key_page in KEY_PAGES:
                problems.extend(check_key_page(browser, base_url, key_page))
        finally:
            browser.close()
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(f"docs-check: {len(KEY_PAGES)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
