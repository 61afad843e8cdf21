"""The URLs the crawlers do not follow: a sitemap's, with the reason recorded on the job,
and a page's links, left out of the e-mail crawl without a word."""

import pytest

from playbook.upstream.emails import same_site_links
from playbook.upstream.fetch import MAX_URL_LENGTH
from playbook.upstream.sitemaps import refusal_of

LONG_PATH = "/" + "a" * MAX_URL_LENGTH


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://site.test/sitemap.xml", None),
        ("http://site.test/sitemap.xml", None),
        (f"https://site.test{LONG_PATH}", f"a sitemap URL is longer than {MAX_URL_LENGTH} characters"),
        ("ftp://site.test/sitemap.xml", "ftp://site.test/sitemap.xml: not an http or https URL"),
        ("https://me:secret@site.test/s.xml", "https://me:secret@site.test/s.xml: the URL carries user info"),
        ("https://site.test:8443/s.xml", "https://site.test:8443/s.xml: not on the default port"),
        ("https://site.test:x/s.xml", "https://site.test:x/s.xml: Port could not be cast to integer value as 'x'"),
        (
            "https://printer.local/s.xml",
            "https://printer.local/s.xml: 'printer.local' is a reserved or private-use name, not a public site",
        ),
    ],
)
def test_a_sitemap_url_is_refused_with_the_reason(url: str, reason: str | None) -> None:
    assert refusal_of(url) == reason


def test_links_the_sitemap_crawl_would_refuse_are_not_followed_by_the_email_crawl() -> None:
    hrefs = [
        "/about",
        f"{LONG_PATH}",
        "ftp://site.test/files",
        "https://me:secret@site.test/private",
        "https://site.test:8443/admin",
        "https://other.test/page",
        "/report.pdf",
        "https://site.test/contact#form",
    ]
    source = "".join(f'<a href="{href}">link</a>' for href in hrefs)

    links = same_site_links(source, page_url="https://site.test/", domain="site.test")

    assert links == ["https://site.test/about", "https://site.test/contact"]
