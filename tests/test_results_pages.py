"""GET /api/v3/jobs/{id}/results a page at a time: a cursor, a page size with a maximum.

Reads are the same code in both variants (`playbook.app.reads`); the jobs are made by
standardized, whose jobs complete. Following `next_cursor` from the first page gives every
entry once, in the order a single large page gives them.
"""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.app.cursors import DIGITS, first_number_after, numbered_key
from playbook.app.schemas import MAX_PAGE_SIZE
from playbook.harness.server import RunningApp
from tests.helpers import run_to_end

pytestmark = pytest.mark.standardized

LISTS = ("items", "sitemap_files", "urls", "places", "contacts")


@pytest.fixture
def variant() -> str:
    return "standardized"


async def pages(app: RunningApp, job_id: str, *, limit: int) -> list[dict[str, Any]]:
    """Every page of the job's results, following `next_cursor` from the first."""
    found, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await app.client.get(f"/api/v3/jobs/{job_id}/results", params=params)
        assert response.status_code == 200, response.text
        found.append(response.json())
        cursor = found[-1]["next_cursor"]
        if cursor is None:
            return found


def joined(found: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [entry for page in found for entry in page.get(name, [])] for name in LISTS if name in found[0]}


def sizes(found: list[dict[str, Any]]) -> list[int]:
    return [sum(len(page.get(name, [])) for name in LISTS) for page in found]


async def test_batch_items_come_a_page_at_a_time_in_domain_order(app: RunningApp) -> None:
    domains = [f"page-{n}.test" for n in (3, 1, 5, 2, 4)]
    job = await run_to_end(app, "/api/v3/batches", {"items": domains})

    found = await pages(app, job["id"], limit=2)
    whole = await pages(app, job["id"], limit=MAX_PAGE_SIZE)

    assert sizes(found) == [2, 2, 1]
    assert [page["next_cursor"] for page in found] == ["page-2.test", "page-4.test", None]
    assert joined(found) == joined(whole)
    assert [item["domain"] for item in joined(whole)["items"]] == sorted(domains)


async def test_sitemap_documents_come_first_then_urls_across_pages(app: RunningApp) -> None:
    job = await run_to_end(app, "/api/v3/sitemap/scan", {"domain": "paged.test"})

    found = await pages(app, job["id"], limit=4)
    whole = await pages(app, job["id"], limit=MAX_PAGE_SIZE)

    # The default tree: 5 documents, then 7 URLs.
    assert sizes(found) == [4, 4, 4]
    assert [(len(page["sitemap_files"]), len(page["urls"])) for page in found] == [(4, 0), (1, 3), (0, 4)]
    assert joined(found) == joined(whole)
    assert (len(whole), len(joined(whole)["sitemap_files"]), len(joined(whole)["urls"])) == (1, 5, 7)


async def test_places_come_in_the_apis_order_across_pages(app: RunningApp) -> None:
    job = await run_to_end(app, "/api/v3/places/search", {"query": "dentist", "location": "Austin, TX"})

    found = await pages(app, job["id"], limit=7)
    whole = await pages(app, job["id"], limit=MAX_PAGE_SIZE)

    assert joined(found) == joined(whole)
    places = len(joined(whole)["places"])
    assert places > 7
    assert sizes(found) == [7] * (places // 7) + ([places % 7] if places % 7 else [])


async def test_contacts_come_in_address_order_across_pages(app: RunningApp) -> None:
    job = await run_to_end(app, "/api/v3/email-scraper/scan", {"domain": "paged-contacts.test"})

    found = await pages(app, job["id"], limit=3)
    whole = await pages(app, job["id"], limit=MAX_PAGE_SIZE)

    assert sizes(found) == [3, 3, 1]
    assert joined(found) == joined(whole)
    emails = [contact["email"] for contact in joined(whole)["contacts"]]
    assert emails == sorted(emails)


CURSORS = {
    "a": ["a.test", "b.test", "c.test"],
    "a.test": ["b.test", "c.test"],
    "b": ["b.test", "c.test"],
    "b.test": ["c.test"],
    "c.test": [],
    "zzz": [],
    "0": ["a.test", "b.test", "c.test"],
}


async def test_any_cursor_the_schema_allows_is_a_place_in_the_order(app: RunningApp) -> None:
    job = await run_to_end(app, "/api/v3/batches", {"items": ["c.test", "a.test", "b.test"]})

    seen = {}
    for cursor in CURSORS:
        response = await app.client.get(f"/api/v3/jobs/{job['id']}/results", params={"cursor": cursor})
        assert response.status_code == 200
        seen[cursor] = [item["domain"] for item in response.json()["items"]]
    assert seen == CURSORS


BAD_PAGES: list[tuple[dict[str, int | str], str]] = [
    ({"limit": MAX_PAGE_SIZE + 1}, f"less than or equal to {MAX_PAGE_SIZE}"),
    ({"limit": 0}, "greater than or equal to 1"),
    ({"cursor": "A"}, "String should match pattern"),
    ({"cursor": "x" * 321}, "String should match pattern"),
    ({"cursor": "a\x00"}, "String should match pattern"),
]


async def test_a_page_size_over_the_maximum_or_a_malformed_cursor_is_a_422(app: RunningApp) -> None:
    job = await run_to_end(app, "/api/v3/batches", {"items": ["a.test"]})

    for params, message in BAD_PAGES:
        response = await app.client.get(f"/api/v3/jobs/{job['id']}/results", params=params)
        assert response.status_code == 422, params
        assert message in response.json()["detail"][0]["msg"], params


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(cursor=st.text(alphabet="du0123456789a.-z²", max_size=DIGITS + 3), digits=st.integers(1, 3))
def test_the_first_numbered_key_after_a_cursor_is_the_smallest_that_sorts_after_it(cursor: str, digits: int) -> None:
    keys = [(number, f"d{number:0{digits}d}") for number in range(10**digits)]
    expected = next((number for number, key in keys if key > cursor), None)

    assert first_number_after(cursor, "d", digits=digits) == expected


def test_numbered_keys_sort_as_their_numbers() -> None:
    assert sorted(numbered_key("u", n) for n in (10, 9, 100)) == [numbered_key("u", n) for n in (9, 10, 100)]
    assert numbered_key("d", 2**31 - 1) < numbered_key("u", 0)
