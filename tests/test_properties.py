"""Property tests (Hypothesis) for the validators and for the parsers of what upstreams send.

Validators: what the OpenAPI schema allows, read by an independent JSON Schema validator
(jsonschema_rs, with ECMA 262 regular expressions), is exactly what the API accepts, and
what it accepts it keeps as sent. Parsers (bodies, e-mail addresses, links, sitemaps,
robots.txt): any input gives a result or the module's own error, never another
exception, and what they find is what was planted.
"""

import asyncio
import gzip
import html
import itertools
import json
import string
from collections.abc import Callable
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from playbook.app.errors import PREVIEW_WIDTH, preview
from playbook.app.hostnames import DOMAIN_JSON_SCHEMA, DOMAIN_PATTERN, INTERNAL_SUFFIXES, check_domain
from playbook.app.json_bodies import NotJson, media_type_refusal, parse_json
from playbook.app.schemas import PlacesSearchRequest
from playbook.upstream.emails import extract_emails, same_site_links
from playbook.upstream.fetch import MAX_URL_LENGTH
from playbook.upstream.sitemaps import CrawlError, read_document, sitemaps_listed

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.builds(
    lambda labels, top: ".".join([*labels, top]),
    st.lists(label, min_size=1, max_size=4),
    st.sampled_from(["test", "com", "io", *INTERNAL_SUFFIXES]),
)
spelled_addresses = st.builds(
    lambda octets, sep, rest: sep.join(str(octet) for octet in octets) + "." + rest,
    st.lists(st.integers(0, 255), min_size=4, max_size=4),
    st.sampled_from([".", "-"]),
    st.sampled_from(["nip.io", "sslip.io"]),
)
near_domains = st.one_of(
    domains,
    spelled_addresses,
    domains.map(str.upper),
    domains.map(lambda name: f" {name}"),
    domains.map(lambda name: f"{name}."),
    domains.map(lambda name: name.replace("e", "\u212a", 1)),
    st.from_regex(DOMAIN_PATTERN, fullmatch=True),
    st.text(max_size=30),
)


def accepted(validate: Callable[[str], object], value: str) -> bool:
    try:
        validate(value)
    except ValueError:
        return False
    return True


@PROPERTY
@given(near_domains)
def test_a_domain_is_accepted_exactly_when_the_schema_allows_it_and_kept_as_sent(value: str) -> None:
    schema = jsonschema_rs.validator_for(DOMAIN_JSON_SCHEMA)
    assert accepted(check_domain, value) == schema.is_valid(value)
    if schema.is_valid(value):
        assert check_domain(value) == value


SEARCH_TEXT_SCHEMA = PlacesSearchRequest.model_json_schema()["properties"]["query"]
search_texts = st.one_of(
    st.text(max_size=210),
    st.text(alphabet=" \t\r\n\x00\xa0\u3000ab", max_size=5),
    st.from_regex(SEARCH_TEXT_SCHEMA["pattern"], fullmatch=True).filter(lambda text: len(text) <= 210),
)


def search(query: str) -> PlacesSearchRequest:
    return PlacesSearchRequest(query=query, location="Austin, TX")


@PROPERTY
@given(search_texts)
def test_search_text_is_accepted_exactly_when_the_schema_allows_it(query: str) -> None:
    schema = jsonschema_rs.validator_for(SEARCH_TEXT_SCHEMA)
    try:
        kept = search(query).query
    except ValidationError:
        assert not schema.is_valid(query)
        return
    assert schema.is_valid(query)
    assert kept == query.strip() and kept


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@PROPERTY
@given(json_values)
def test_a_json_document_reads_back_as_it_was_written(value: str) -> None:
    assert parse_json(json.dumps(value).encode()) == value


@PROPERTY
@given(st.binary(max_size=200) | json_values.map(lambda value: json.dumps(value).encode() + b"x"))
def test_any_body_is_a_document_or_a_reason_it_is_none(body: bytes) -> None:
    try:
        parse_json(body)
    except NotJson as exc:
        assert str(exc)


# Real media types, JSON ones among them, spelled as clients spell them, with parameters
# drawn apart: random text alone almost never spells `application/json`.
media_types = st.sampled_from(
    [
        "application/json",
        "Application/JSON ",
        " APPLICATION/json",
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "application/problem+json",
        "application/json-seq",
        "multipart/form-data",
        "",
    ]
)
media_parameters = st.tuples(
    st.sampled_from(["charset", "Charset", " CHARSET ", "boundary", "q"]),
    st.sampled_from(["utf-8", "UTF-8", " utf-8 ", '"utf-8"', "utf8", "utf-16", "UTF-16LE", "latin-1", "us-ascii", ""]),
)
content_types = st.builds(
    lambda media_type, parameters: media_type + "".join(f"; {name}={value}" for name, value in parameters),
    media_types,
    st.lists(media_parameters, max_size=3),
)


@PROPERTY
@given(content_types | st.text(alphabet="aAjJsSoOnN/+-;=\"' 18tfucehr", max_size=40))
@example("application/json")
@example("Application/JSON ; charset=UTF-8")
@example('application/json; boundary=x; charset="utf-8"')
@example("application/json; charset=utf-16")
@example("application/json; charset=utf-8; charset=utf-16")
@example("text/plain; charset=utf-8")
def test_only_json_in_utf8_is_read(content_type: str) -> None:
    media_type, _, parameters = content_type.partition(";")
    charset = parameters.partition("=")
    plain = media_type.strip().lower() == "application/json" and (
        not parameters.strip() or (charset[0].strip().lower() == "charset" and charset[2].strip() in {"utf-8", "UTF-8"})
    )
    if plain:
        assert media_type_refusal(content_type) is None
    if media_type.strip().lower() != "application/json":
        assert media_type_refusal(content_type) is not None
    # Exactly: JSON with every charset it names UTF-8 (quoted or not, any case) is read; all else is refused.
    named = [pair.partition("=") for pair in parameters.split(";")]
    charsets = [value.strip().strip('"').lower() for name, _, value in named if name.strip().lower() == "charset"]
    read = media_type.strip().lower() == "application/json" and all(value == "utf-8" for value in charsets)
    assert (media_type_refusal(content_type) is None) == read


@PROPERTY
@given(st.from_type(object) | json_values | st.text(min_size=100))
# Lone surrogates: text Python holds but UTF-8 cannot, alone, in a long text and inside a list.
@example("\ud800")
@example("\udfff" + "x" * 100)
@example(["a", "\udc80"])
def test_a_preview_is_short_and_always_encodable(value: str) -> None:
    shown = preview(value)
    assert len(shown) <= PREVIEW_WIDTH
    # Strict: a lone surrogate raises UnicodeEncodeError (an error handler would hide it).
    shown.encode("utf-8")


local_parts = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
noise = st.text(alphabet=string.ascii_letters + string.digits + " <>\"'=/:;,!?()[]{}\n@.", max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(addresses, max_size=5), st.lists(noise, min_size=1, max_size=6))
# More addresses than noise, one the tail of another: each is a word of its own.
@example(planted=["000@0.test", "00@0.test"], filler=[""])
def test_every_address_written_plainly_on_a_page_is_found(planted: list[str], filler: list[str]) -> None:
    # Every planted address is written, each between spaces, with noise around it.
    page = " ".join(f"{text} {address} " for text, address in itertools.zip_longest(filler, planted, fillvalue=""))

    assert {address.lower() for address in planted} <= extract_emails(html.escape(page, quote=False))


long_addresses = st.builds(
    lambda local, domain, before: f"{before}{local}@{domain}",
    st.text(alphabet="aB9._+-", min_size=1, max_size=120),
    domains,
    st.sampled_from(["", " ", "x", ".", "mailto:"]),
)


@PROPERTY
@given(page=st.text(max_size=400) | noise | long_addresses, planted=st.just(frozenset[str]()))
@example(page="x" * 65 + "@site.test", planted=frozenset())
@example(page="info@" + "a" * 250 + ".test", planted=frozenset())
# The loop below checks nothing on a page where nothing is found: here three addresses must be,
# one the longest local part allowed, one in a mailto link, one spelled with an entity.
@example(
    page=f'Write to <a href="mailto:Sales@Shop.test">sales</a>, to {"x" * 64}@site.test or to info&#64;shop.test',
    planted=frozenset({"sales@shop.test", "x" * 64 + "@site.test", "info@shop.test"}),
)
def test_what_is_found_on_any_page_is_a_lowercase_mailbox_of_legal_length(page: str, planted: frozenset[str]) -> None:
    assert planted <= extract_emails(page)
    for found in extract_emails(page):
        local, at, domain = found.partition("@")
        assert at and found == found.lower()
        assert 1 <= len(local) <= 64 and len(domain) <= 255


# Links that are pages of the site, and the URL each must be followed as.
SAME_SITE_PAGES = {
    "/about": "http://site.test/about",
    "https://site.test/x": "https://site.test/x",
    "https://site.test/x#top": "https://site.test/x",
}
hrefs = st.one_of(
    st.text(max_size=60),
    st.sampled_from([*SAME_SITE_PAGES, "http://site.test:8080/", "http://u:p@site.test/", "ftp://site.test/"]),
    st.builds(lambda path: f"/{path}", st.text(max_size=3000)),
)


@PROPERTY
@given(st.lists(hrefs, max_size=6))
# The loop below checks nothing if no link is followed: here two must be, among links that must not.
@example(["http://other.test/", "/about", "http://site.test:8080/", "https://site.test/x#top"])
def test_links_followed_are_pages_of_the_same_site_only(links: list[str]) -> None:
    page = "".join(f'<a href="{html.escape(link)}">x</a>' for link in links)
    followed = same_site_links(page, page_url="http://site.test/", domain="site.test")
    assert {SAME_SITE_PAGES[link] for link in links if link in SAME_SITE_PAGES} <= set(followed)
    for url in same_site_links(page, page_url="http://site.test/", domain="site.test"):
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.hostname == "site.test"
        assert parts.port is None and parts.username is None and parts.password is None
        assert len(url) <= MAX_URL_LENGTH and "#" not in url


# Characters XML 1.0 can hold as they are (no form feed, no carriage return, which it normalises).
locs = st.builds(
    lambda path: f"http://site.test/{path}",
    st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " \t\n", max_size=20),
)


def urlset(entries: list[str]) -> bytes:
    body = "".join(f"<url><loc>{escape(loc)}</loc></url>" for loc in entries)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()


@PROPERTY
@given(st.lists(locs, max_size=8), st.booleans())
def test_a_urlset_lists_each_url_once_in_document_order_gzipped_or_not(entries: list[str], gzipped: bool) -> None:
    body = urlset(entries)
    document = asyncio.run(read_document("http://site.test/sitemap.xml", gzip.compress(body) if gzipped else body))

    expected = list(dict.fromkeys(loc.strip() for loc in entries if loc.strip()))
    assert document.kind == "urlset"
    assert [url.loc for url in document.urls] == expected


@PROPERTY
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_sitemap_or_a_reason_they_are_none(body: bytes) -> None:
    try:
        asyncio.run(read_document("http://site.test/sitemap.xml", body))
    except CrawlError as exc:
        assert str(exc).startswith("http://site.test/sitemap.xml: ")


directive = st.sampled_from(["User-agent: *", "Disallow: /admin", "Allow: /", "Crawl-delay: 5", "", "# comment"])
sitemap_urls = st.builds(
    lambda path: f"http://site.test/{path}.xml", st.text(alphabet=string.ascii_lowercase, max_size=8)
)


@PROPERTY
@given(
    st.lists(st.tuples(sitemap_urls, st.sampled_from(["Sitemap", "sitemap", "SITEMAP"]), st.booleans()), max_size=4),
    st.lists(directive, max_size=6),
)
def test_robots_txt_lists_its_sitemap_lines_without_their_comments(
    listed: list[tuple[str, str, bool]], others: list[str]
) -> None:
    lines = [f"{name}:  {url} {'# main' if comment else ''}" for url, name, comment in listed] + others
    assert sitemaps_listed("\n".join(lines)) == [url for url, _, _ in listed]


@PROPERTY
@given(st.text(max_size=500))
def test_any_robots_txt_reads_as_a_list_of_urls(text: str) -> None:
    assert all(isinstance(url, str) and url for url in sitemaps_listed(text))
