"""The places search spec: both variants, one set of expectations (docs/contract.md).

One search at a time, legacy passes. It fails when the upstream fails, because it logs the
error and records nothing (F11), and when a few searches run at once on a small pool,
because each holds a connection across all its slow pages (F10). Those runs are strict
xfails; `test_legacy_concurrent_searches_exhaust_the_pool_F10` asserts the failure itself.
"""

import asyncio
import importlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.database import get_pool_stats
from playbook.app.factory import create_app
from playbook.app.models import JobPlace, Place
from playbook.app.settings import Settings, Variant
from playbook.harness.server import RunningApp, serve_in_process
from playbook.harness.simulator.places_api import PlacesApi, search_results
from playbook.upstream.places import MAX_ATTEMPTS, PlacesPage, fetch_page
from standardized.services.places import places_search_service as standardized_service
from tests.helpers import (
    assert_rejected_without_writing,
    aware,
    count_rows,
    leave_unfinished,
    read_job,
    read_results,
    run_to_end,
    submit,
)

SEARCH = "/api/v3/places/search"
AUSTIN = "Austin, TX"
# 3 places per character of the query: "dentist" finds 21 places, on 2 pages (20, then 1 more
# after the repeated 20th); "pizza restaurant" finds 48, on 3 pages.
DENTIST = {"query": "dentist", "location": AUSTIN}
F11 = "the task logs the upstream error and records nothing; the job stays processing"
F10_F11 = "each search holds a connection across its pages: the others and the API's reads time out"


def expected_places(query: str, location: str) -> list[dict[str, Any]]:
    """What the results endpoint returns for a search the simulator answers in full."""
    return [
        {
            "place_id": place["place_id"],
            "name": place["name"],
            "address": place["formatted_address"],
            "rating": place.get("rating"),
        }
        for place in search_results(query, location)
    ]


async def test_search_is_accepted_as_pending(app: RunningApp) -> None:
    accepted = await submit(app, SEARCH, DENTIST)
    assert (accepted["kind"], accepted["status"], accepted["total_items"]) == ("places_search", "pending", 0)
    assert accepted["start_time"] is None and accepted["end_time"] is None
    await app.wait_idle()


async def test_search_reads_every_page_and_stores_each_place_once(app: RunningApp, read_engine: AsyncEngine) -> None:
    job = await run_to_end(app, SEARCH, DENTIST)

    assert job["status"] == "completed"
    assert (job["total_items"], job["completed_count"], job["failed_count"], job["error"]) == (2, 2, 0, None)
    assert job["item_results"] == {"page 1": "completed", "page 2": "completed"}
    assert aware(job["created_at"]) <= aware(job["start_time"]) <= aware(job["end_time"])
    # Page 2 repeats page 1's last place: 22 results, 21 places, in the API's order.
    places = (await read_results(app, job["id"]))["places"]
    assert places == expected_places("dentist", AUSTIN)
    assert len(places) == 21
    # Read back in a session of its own: what the database holds.
    async with AsyncSession(read_engine) as session:
        linked = await session.scalars(select(JobPlace.place_id).where(JobPlace.job_id == uuid.UUID(job["id"])))
        place_ids = linked.all()
        stored = await session.scalar(select(func.count()).select_from(Place).where(Place.place_id.in_(place_ids)))
    assert sorted(place_ids) == sorted(place["place_id"] for place in places)
    assert stored == 21
    assert app.escaped_exceptions == []
    assert get_pool_stats().checked_out == 0, "a connection was left checked out"


async def test_next_page_waits_until_its_token_is_valid(app: RunningApp) -> None:
    job = await run_to_end(app, SEARCH, {"query": "pizza restaurant", "location": AUSTIN})

    # Each token is refused until token_delay_ms after it was issued: two waits at least.
    assert (job["status"], job["total_items"], job["completed_count"]) == ("completed", 3, 3)
    assert aware(job["end_time"]) - aware(job["start_time"]) >= 2 * timedelta(milliseconds=PlacesApi.token_delay_ms)
    assert len((await read_results(app, job["id"]))["places"]) == 48


async def test_places_found_by_two_searches_are_stored_once(app: RunningApp, read_engine: AsyncEngine) -> None:
    first = await run_to_end(app, SEARCH, DENTIST)
    places_after_first = await count_rows(read_engine, Place)
    second = await run_to_end(app, SEARCH, DENTIST)

    assert (first["status"], second["status"]) == ("completed", "completed")
    assert await count_rows(read_engine, Place) == places_after_first
    first_places = (await read_results(app, first["id"]))["places"]
    assert (await read_results(app, second["id"]))["places"] == first_places == expected_places("dentist", AUSTIN)


async def test_rate_limited_pages_are_retried(app: RunningApp) -> None:
    # Every page is refused once with OVER_QUERY_LIMIT before it is answered.
    job = await run_to_end(app, SEARCH, {"query": "ratelimit dentist", "location": AUSTIN})

    assert job["status"] == "completed"
    assert (job["total_items"], job["completed_count"], job["failed_count"]) == (3, 3, 0)
    assert (await read_results(app, job["id"]))["places"] == expected_places("ratelimit dentist", AUSTIN)


async def test_zero_results_is_a_completed_search_without_places(app: RunningApp) -> None:
    job = await run_to_end(app, SEARCH, {"query": "dentist", "location": "Nowhere"})

    assert job["status"] == "completed"
    assert (job["total_items"], job["completed_count"], job["failed_count"], job["error"]) == (1, 1, 0, None)
    assert job["item_results"] == {"page 1": "completed"}
    assert (await read_results(app, job["id"]))["places"] == []


FIRST_PAGE_FAILURES = {
    "request denied": ("denied", "REQUEST_DENIED: The provided API key is invalid."),
    "rate limit that never lifts": ("quota", f"OVER_QUERY_LIMIT after {MAX_ATTEMPTS} attempts"),
    "upstream timeout": ("timeout", "timed out"),
}


@pytest.mark.fails_on_legacy("F11", reason=F11)
@pytest.mark.parametrize(("query", "reason"), FIRST_PAGE_FAILURES.values(), ids=FIRST_PAGE_FAILURES.keys())
async def test_search_whose_first_page_fails_ends_failed_with_the_reason(
    app: RunningApp, query: str, reason: str
) -> None:
    job = await run_to_end(app, SEARCH, {"query": query, "location": AUSTIN})

    assert job["status"] == "failed"
    assert (job["total_items"], job["completed_count"], job["failed_count"]) == (1, 0, 1)
    assert job["item_results"]["page 1"].startswith(f"failed: {reason}")
    assert job["error"].startswith(f"Error processing item page 1: {reason}")
    aware(job["end_time"])
    assert (await read_results(app, job["id"]))["places"] == []
    assert app.escaped_exceptions == []


@pytest.mark.fails_on_legacy("F11", reason=F11)
async def test_search_whose_later_page_fails_keeps_the_earlier_pages_as_partial(app: RunningApp) -> None:
    # "fail dentist": 36 places on 2 pages; the second answers HTTP 500.
    job = await run_to_end(app, SEARCH, {"query": "fail dentist", "location": AUSTIN})

    assert job["status"] == "partial"
    assert (job["total_items"], job["completed_count"], job["failed_count"]) == (2, 1, 1)
    assert job["item_results"] == {"page 1": "completed", "page 2": "failed: HTTP 500"}
    assert job["error"] == "Error processing item page 2: HTTP 500"
    assert (await read_results(app, job["id"]))["places"] == expected_places("fail dentist", AUSTIN)[:20]


async def test_search_run_again_counts_and_stores_the_same(
    app: RunningApp, variant: Variant, read_engine: AsyncEngine
) -> None:
    job = await run_to_end(app, SEARCH, DENTIST)
    places_before = await count_rows(read_engine, Place)
    service = importlib.import_module(f"{variant}.services.places.places_search_service")

    # As a recovery would after a crash before the job's last write: the same job, from the start.
    await leave_unfinished(read_engine, job["id"])
    await service.process_places_search_background(uuid.UUID(job["id"]), DENTIST["query"], DENTIST["location"])

    again = await read_job(app, job["id"])
    assert again["status"] == "completed"
    assert (again["total_items"], again["completed_count"], again["failed_count"]) == (2, 2, 0)
    assert again["item_results"] == job["item_results"]
    assert (await read_results(app, job["id"]))["places"] == expected_places("dentist", AUSTIN)
    assert await count_rows(read_engine, Place) == places_before


@pytest.mark.standardized
async def test_standardized_search_holds_no_connection_while_it_awaits_a_page_R2(
    database_url: URL, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked_out: list[int] = []  # connections checked out as each page is asked for, and as it arrives

    async def observed_fetch_page(*, query: str, location: str, page_token: str | None = None) -> PlacesPage:
        checked_out.append(get_pool_stats().checked_out)
        page = await fetch_page(query=query, location=location, page_token=page_token)
        checked_out.append(get_pool_stats().checked_out)
        return page

    monkeypatch.setattr(standardized_service, "fetch_page", observed_fetch_page)
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
        job = await run_to_end(app, SEARCH, {"query": "pizza restaurant", "location": AUSTIN})

    assert (job["status"], job["total_items"]) == ("completed", 3)
    # Nothing else runs meanwhile: any connection out is one the search kept across the call.
    assert checked_out == [0] * 6


BAD_SEARCHES = {
    "empty query": ({"query": "", "location": AUSTIN}, "String should have at least 1 character"),
    "blank query": ({"query": "   ", "location": AUSTIN}, "String should have at least 1 character"),
    "missing location": ({"query": "dentist"}, "Field required"),
    "non-string query": ({"query": 42, "location": AUSTIN}, "Input should be a valid string"),
    "query too long": ({"query": "d" * 201, "location": AUSTIN}, "String should have at most 200 characters"),
    "unknown field": ({**DENTIST, "radius": 500}, "Extra inputs are not permitted"),
}


@pytest.mark.parametrize(("body", "message"), BAD_SEARCHES.values(), ids=BAD_SEARCHES.keys())
async def test_bad_search_gets_a_clear_422_and_writes_nothing(
    app: RunningApp, read_engine: AsyncEngine, body: dict[str, Any], message: str
) -> None:
    await assert_rejected_without_writing(app, read_engine, SEARCH, body, message)


# "pizza restaurants downtown" finds 60 places, on 4 pages of 400 ms or more each. Legacy
# holds a connection from its first page's writes to the end: 1.2 s or more, far beyond the
# 0.5 s anyone else waits for one. The upstream timeout leaves room for the latency.
SMALL_POOL = {"pool_size": 2, "pool_timeout": 0.5, "upstream_latency_ms": 400, "upstream_timeout": 5.0}
CITIES = ("Austin, TX", "Boston, MA", "Chicago, IL", "Denver, CO")
CONCURRENT_SEARCHES = [{"query": "pizza restaurants downtown", "location": city} for city in CITIES]
POOL_TIMED_OUT = "QueuePool limit of size 2 overflow 0 reached, connection timed out, timeout 0.50"


@dataclass
class ConcurrentRun:
    jobs: list[dict[str, Any]]
    read_statuses: list[int]  # of the API's own reads made while the searches ran
    escaped: list[BaseException]


async def run_concurrent_searches(variant: Variant, database_url: URL, settings: Settings) -> ConcurrentRun:
    app_settings = settings.model_copy(update=SMALL_POOL)
    async with serve_in_process(create_app(variant, database_url=database_url, settings=app_settings)) as app:
        accepted = await asyncio.gather(*(submit(app, SEARCH, body) for body in CONCURRENT_SEARCHES))
        read_statuses = []
        while not app.idle:
            for job in accepted:
                read_statuses.append((await app.client.get(f"/api/v3/jobs/{job['id']}")).status_code)
            await asyncio.sleep(0.05)
        jobs = [await read_job(app, job["id"]) for job in accepted]
        return ConcurrentRun(jobs=jobs, read_statuses=read_statuses, escaped=list(app.escaped_exceptions))


@pytest.mark.fails_on_legacy("F10", "F11", reason=F10_F11)
async def test_concurrent_searches_on_a_small_pool_all_complete_and_reads_succeed(
    variant: Variant, database_url: URL, settings: Settings
) -> None:
    run = await run_concurrent_searches(variant, database_url, settings)

    assert [job["status"] for job in run.jobs] == ["completed"] * 4
    assert [job["total_items"] for job in run.jobs] == [4] * 4
    assert run.read_statuses and set(run.read_statuses) == {200}
    assert run.escaped == []


@pytest.mark.legacy
async def test_legacy_concurrent_searches_exhaust_the_pool_F10(
    database_url: URL, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    run = await run_concurrent_searches("legacy", database_url, settings)

    # How it shows: two searches hold both connections from their first page on; the other
    # two wait 0.5 s for one to write theirs, and the service logs the pool's TimeoutError.
    logged = [
        record.exc_info[1]
        for record in caplog.records
        if record.name == "legacy.services.places.places_search_service" and record.exc_info
    ]
    assert len(logged) == 2
    for exc in logged:
        assert type(exc) is PoolTimeoutError
        assert str(exc).startswith(POOL_TIMED_OUT)
    # The API's own reads wait the same way and fail with a 500.
    assert 500 in run.read_statuses
    assert len(run.escaped) == run.read_statuses.count(500)
    for exc in run.escaped:
        assert type(exc) is PoolTimeoutError
        assert str(exc).startswith(POOL_TIMED_OUT)
    # The effect: nothing is recorded on the failed searches; they stay `processing`.
    assert sorted(job["status"] for job in run.jobs) == ["completed", "completed", "processing", "processing"]
    for job in run.jobs:
        if job["status"] == "processing":
            assert (job["error"], job["end_time"], job["completed_count"]) == (None, None, 0)
