"""The e-mail scraper spec: both variants, one set of expectations (docs/contract.md).

Legacy fails every behavioural test: its sync task's status update never runs (F4), its
second `asyncio.run` meets a connection pooled on the first one's loop (F5), and the error
is logged and swallowed, the job left `pending` (F11); those runs are strict xfails.
"""

import gc
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.database import get_pool_stats
from playbook.app.factory import create_app
from playbook.app.models import Contact
from playbook.app.settings import Settings, Variant
from playbook.harness.server import RunningApp, serve_in_process
from playbook.upstream.emails import MAX_DEPTH, MAX_PAGES
from standardized.tasks.email_scraper import scrape_emails_task
from tests.helpers import (
    assert_rejected_without_writing,
    aware,
    leave_unfinished,
    read_job,
    read_results,
    run_to_end,
    submit,
)

SCAN = "/api/v3/email-scraper/scan"
F4_F5_F11 = (
    "the sync task's update never runs, its second asyncio.run meets a connection of the first one's loop;"
    " the error is swallowed, the job stays pending"
)
LEGACY_LOGGER = "legacy.tasks.email_scraper"
POOL_LOGGER = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"
# What a legacy scan leaves behind: the coroutines it never awaited (F4), and a connection
# whose event loop was closed, which nothing can cancel or close any more (F5, F6).
LEGACY_SCAN_WARNINGS = (
    (r"coroutine 'AsyncSession\.(execute|commit)' was never awaited", RuntimeWarning),
    (r"coroutine 'Connection\._cancel' was never awaited", RuntimeWarning),
    (r"unclosed transport <_SelectorSocketTransport", ResourceWarning),
    (r"unclosed <socket\.socket", ResourceWarning),
)


@pytest.fixture(autouse=True)
def legacy_scan_leftovers_stay_in_their_test(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Expect the warnings a legacy scan causes, and collect its leftovers before the next test starts."""
    if request.node.get_closest_marker("legacy") is None:
        yield
        return
    with warnings.catch_warnings():
        for message, category in LEGACY_SCAN_WARNINGS:
            warnings.filterwarnings("always", message, category)
        yield
        logged = caplog.get_records("call")
        if any(record.name == LEGACY_LOGGER for record in logged):
            # The logged tracebacks hold the worker thread's frames, and through them the dead
            # loop's connection: drop them, so the collector finalizes it here and not in a later test.
            logged.clear()
            gc.collect()


def site(kind: str, variant: str) -> str:
    """A host of the simulator's `kind` of site, apart for each variant: contacts are stored per domain."""
    return f"{kind}-{variant}.test"


def pages(host: str, *paths: str) -> list[str]:
    return [f"http://{host}{path}" for path in paths]


def standard_site_contacts(host: str) -> list[dict[str, Any]]:
    """The addresses of the simulator's standard site, each with the first page it is on."""
    home, about, contact, team = pages(host, "/", "/about", "/contact", "/team")
    first_seen = {
        "billing": contact,
        "info": home,
        "jane.doe": team,
        "john": team,
        "press": about,
        "sales": contact,
        "support": contact,
    }
    return [{"email": f"{name}@{host}", "source_url": url} for name, url in first_seen.items()]


def standard_site_outcomes(host: str) -> dict[str, str]:
    home, about, contact, team, old_news = pages(host, "/", "/about", "/contact", "/team", "/old-news")
    return {
        home: "completed",
        about: "completed",
        contact: "completed",
        team: "completed",
        old_news: "failed: HTTP 404",
    }


async def stored_contacts(engine: AsyncEngine, domain: str) -> list[Contact]:
    async with AsyncSession(engine) as session:
        return list(await session.scalars(select(Contact).where(Contact.domain == domain).order_by(Contact.id)))


async def test_scan_is_accepted_as_pending(app: RunningApp, variant: Variant) -> None:
    accepted = await submit(app, SCAN, {"domain": site("accepted", variant)})
    assert (accepted["kind"], accepted["status"], accepted["total_items"]) == ("email_scan", "pending", 0)
    assert accepted["start_time"] is None and accepted["end_time"] is None
    await app.wait_idle()


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
async def test_scan_stores_every_address_once_with_the_page_it_was_first_found_on(
    app: RunningApp, variant: Variant, read_engine: AsyncEngine
) -> None:
    host = site("shop", variant)
    job = await run_to_end(app, SCAN, {"domain": host})

    # Five pages: the home page, the three it links to, and its broken link (a 404); its
    # links to another site and to a PDF are not followed.
    assert job["status"] == "partial"
    assert (job["total_items"], job["completed_count"], job["failed_count"]) == (5, 4, 1)
    assert job["item_results"] == standard_site_outcomes(host)
    assert job["error"] == f"Error processing item http://{host}/old-news: HTTP 404"
    assert aware(job["created_at"]) <= aware(job["start_time"]) <= aware(job["end_time"])
    results = await read_results(app, job["id"])
    assert (results["kind"], results["domain"]) == ("email_scan", host)
    assert results["contacts"] == standard_site_contacts(host)
    # Read back in a session of its own: one row per address, whatever the number of pages it is on.
    stored = await stored_contacts(read_engine, host)
    assert sorted((contact.email, contact.source_url) for contact in stored) == [
        (contact["email"], contact["source_url"]) for contact in standard_site_contacts(host)
    ]
    assert {str(contact.job_id) for contact in stored} == {job["id"]}
    assert app.escaped_exceptions == []
    assert get_pool_stats().checked_out == 0, "a connection was left checked out"


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
async def test_failing_pages_are_recorded_and_the_crawl_continues(app: RunningApp, variant: Variant) -> None:
    host = site("broken", variant)
    job = await run_to_end(app, SCAN, {"domain": host})

    assert job["status"] == "partial"
    assert (job["total_items"], job["completed_count"], job["failed_count"]) == (7, 4, 3)
    server_error, download = pages(host, "/server-error", "/download")
    assert job["item_results"] == standard_site_outcomes(host) | {
        server_error: "failed: HTTP 500",
        download: "failed: not an HTML page (application/octet-stream)",
    }
    # Pages after the failing ones were still crawled and their addresses stored.
    assert (await read_results(app, job["id"]))["contacts"] == standard_site_contacts(host)
    assert app.escaped_exceptions == []


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
async def test_crawl_goes_no_deeper_than_max_depth(app: RunningApp, variant: Variant) -> None:
    host = site("deep", variant)
    job = await run_to_end(app, SCAN, {"domain": host})

    levels = range(1, MAX_DEPTH + 1)
    assert job["status"] == "completed"
    assert job["item_results"] == dict.fromkeys(pages(host, "/", *(f"/level-{n}" for n in levels)), "completed")
    contacts = (await read_results(app, job["id"]))["contacts"]
    assert [contact["email"] for contact in contacts] == [f"level{n}@{host}" for n in levels]


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
async def test_crawl_stops_at_max_pages(app: RunningApp, variant: Variant) -> None:
    host = site("wide", variant)
    job = await run_to_end(app, SCAN, {"domain": host})

    linked = range(1, MAX_PAGES)
    assert job["status"] == "completed"
    assert (job["total_items"], job["completed_count"]) == (MAX_PAGES, MAX_PAGES)
    assert set(job["item_results"]) == set(pages(host, "/", *(f"/page-{n}" for n in linked)))
    contacts = (await read_results(app, job["id"]))["contacts"]
    assert {contact["email"] for contact in contacts} == {f"page{n}@{host}" for n in linked}


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
async def test_site_without_addresses_completes_with_no_contacts(
    app: RunningApp, variant: Variant, read_engine: AsyncEngine
) -> None:
    host = site("noemail", variant)
    job = await run_to_end(app, SCAN, {"domain": host})

    assert job["status"] == "completed"
    assert job["item_results"] == dict.fromkeys(pages(host, "/", "/about"), "completed")
    assert (await read_results(app, job["id"]))["contacts"] == []
    assert await stored_contacts(read_engine, host) == []


FAILING_HOSTS = {
    "HTTP 500": ("fail", "HTTP 500"),
    "HTTP 404": ("missing", "HTTP 404"),
    "timeout": ("timeout", "timed out"),
    "not HTML": ("junk", "not an HTML page (application/octet-stream)"),
}


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
@pytest.mark.parametrize(("kind", "reason"), FAILING_HOSTS.values(), ids=FAILING_HOSTS.keys())
async def test_unreachable_home_page_fails_the_scan_with_the_error_recorded(
    app: RunningApp, variant: Variant, kind: str, reason: str
) -> None:
    host = site(kind, variant)
    job = await run_to_end(app, SCAN, {"domain": host})

    [home] = pages(host, "/")
    assert job["status"] == "failed"
    assert (job["total_items"], job["completed_count"], job["failed_count"]) == (1, 0, 1)
    assert job["item_results"][home].startswith(f"failed: {reason}")
    assert job["error"].startswith(f"Error processing item {home}: {reason}")
    aware(job["end_time"])
    assert (await read_results(app, job["id"]))["contacts"] == []


@pytest.mark.fails_on_legacy("F4", "F5", "F11", reason=F4_F5_F11)
async def test_scanning_a_domain_again_stores_no_duplicates(
    app: RunningApp, variant: Variant, read_engine: AsyncEngine
) -> None:
    host = site("again", variant)
    first = await run_to_end(app, SCAN, {"domain": host})
    second = await run_to_end(app, SCAN, {"domain": host})

    assert second["status"] == first["status"] == "partial"
    assert second["item_results"] == first["item_results"] == standard_site_outcomes(host)
    stored = await stored_contacts(read_engine, host)
    assert len(stored) == len(standard_site_contacts(host))
    # The first scan found them: each address keeps that scan and the page it was first seen on.
    assert {str(contact.job_id) for contact in stored} == {first["id"]}
    assert (await read_results(app, second["id"]))["contacts"] == standard_site_contacts(host)


@pytest.mark.standardized
async def test_rerunning_a_scan_recounts_its_pages_and_stores_nothing_twice(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    host = "rerun.test"
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
        job = await run_to_end(app, SCAN, {"domain": host})
        # What a recovery does after a crash before the job's last write: the same job, run again (R7).
        await leave_unfinished(read_engine, job["id"])
        await scrape_emails_task(job_id=uuid.UUID(job["id"]), domain=host)
        rerun = await read_job(app, job["id"])

    assert rerun["status"] == "partial"
    assert (rerun["total_items"], rerun["completed_count"], rerun["failed_count"]) == (5, 4, 1)
    assert rerun["item_results"] == standard_site_outcomes(host)
    assert aware(rerun["start_time"]) > aware(job["start_time"])
    assert len(await stored_contacts(read_engine, host)) == len(standard_site_contacts(host))


BAD_SCANS = {
    "malformed domain": ({"domain": "not a domain"}, "'not a domain' is not a domain name"),
    "domain with a scheme": ({"domain": "http://acme.test"}, "'http://acme.test' is not a domain name"),
    "non-string domain": ({"domain": 42}, "Input should be a valid string"),
    "list of domains": ({"domain": ["acme.test"]}, "Input should be a valid string"),
    "no domain field": ({}, "Field required"),
    "unknown field": ({"domain": "acme.test", "max_pages": 5}, "Extra inputs are not permitted"),
}


@pytest.mark.parametrize(("body", "message"), BAD_SCANS.values(), ids=BAD_SCANS.keys())
async def test_bad_scan_request_gets_a_clear_422_and_writes_nothing(
    app: RunningApp, read_engine: AsyncEngine, body: dict[str, Any], message: str
) -> None:
    await assert_rejected_without_writing(app, read_engine, SCAN, body, message)


async def scan_with_legacy(
    database_url: URL, settings: Settings, host: str
) -> tuple[dict[str, Any], list[BaseException]]:
    """Run one legacy scan to its end; return the job as stored and what escaped to uvicorn."""
    async with serve_in_process(create_app("legacy", database_url=database_url, settings=settings)) as app:
        accepted = await submit(app, SCAN, {"domain": host})
        await app.wait_idle()
        return await read_job(app, accepted["id"]), app.escaped_exceptions


def logged_exception(caplog: pytest.LogCaptureFixture, logger: str) -> tuple[str, BaseException]:
    """The one exception `logger` logged instead of raising, with the message it logged."""
    [record] = [record for record in caplog.records if record.name == logger and record.exc_info]
    assert record.exc_info is not None and record.exc_info[1] is not None
    return record.getMessage(), record.exc_info[1]


@pytest.mark.legacy
async def test_legacy_sync_task_never_awaits_the_session_F4(database_url: URL, settings: Settings) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job, _ = await scan_with_legacy(database_url, settings, "f4-legacy.test")

    # Both calls only created coroutines; Python says so when they are destroyed, in the worker thread.
    warned = sorted(
        ((warning.category, str(warning.message)) for warning in caught if "AsyncSession" in str(warning.message)),
        key=lambda category_and_message: category_and_message[1],
    )
    assert warned == [
        (RuntimeWarning, "coroutine 'AsyncSession.commit' was never awaited"),
        (RuntimeWarning, "coroutine 'AsyncSession.execute' was never awaited"),
    ]
    # The update to `processing` never reached the database.
    assert (job["status"], job["start_time"]) == ("pending", None)


@pytest.mark.legacy
async def test_legacy_asyncio_run_reuses_a_connection_of_a_closed_loop_F5(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    host = "f5-legacy.test"
    job, _ = await scan_with_legacy(database_url, settings, host)

    # The step that stores the results awaits a future of the loop that pooled the connection.
    logged, exception = logged_exception(caplog, LEGACY_LOGGER)
    assert logged == f"email scan {job['id']} failed"
    assert type(exception) is RuntimeError
    message = str(exception)
    assert message.startswith("Task <Task pending name=") and "coro=<_store_results()" in message
    assert message.endswith(
        "got Future <Future pending cb=[BaseProtocol._on_waiter_completed()]> attached to a different loop"
    )
    assert (job["status"], job["total_items"], job["item_results"]) == ("pending", 0, {})
    assert await stored_contacts(read_engine, host) == []


@pytest.mark.legacy
async def test_legacy_engine_dispose_cannot_close_the_connection_of_a_closed_loop_F6(
    database_url: URL, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    job, escaped = await scan_with_legacy(database_url, settings, "f6-legacy.test")

    # Logged by the pool, not raised: the scan's own error is still the one it logs (F5).
    logged, exception = logged_exception(caplog, POOL_LOGGER)
    assert logged.startswith("Exception closing connection <AdaptedConnection <asyncpg.connection.Connection object at")
    assert (type(exception), str(exception)) == (RuntimeError, "Event loop is closed")
    assert "attached to a different loop" in str(logged_exception(caplog, LEGACY_LOGGER)[1])
    assert escaped == [] and job["status"] == "pending"


@pytest.mark.legacy
async def test_legacy_swallows_the_error_and_leaves_the_job_pending_F11(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    host = "f11-legacy.test"
    job, escaped = await scan_with_legacy(database_url, settings, host)

    # Nothing reaches uvicorn's log: a log line of the app's own is the only trace.
    assert escaped == []
    swallowed = logged_exception(caplog, LEGACY_LOGGER)[1]
    assert type(swallowed) is RuntimeError
    assert str(swallowed).startswith("Task <Task pending name=")
    assert (job["status"], job["start_time"], job["end_time"], job["error"]) == ("pending", None, None, None)
    assert await stored_contacts(read_engine, host) == []


@pytest.mark.standardized
async def test_standardized_scan_leaves_no_connection_for_a_dead_loop_F6(
    database_url: URL, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
        job = await run_to_end(app, SCAN, {"domain": site("site", "f6-standardized")})
    # The engine was created and disposed on the app's loop (R8): the pool closed every connection cleanly.

    assert job["status"] == "partial"
    assert [record.getMessage() for record in caplog.records if record.name == POOL_LOGGER] == []
