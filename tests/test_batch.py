"""The batch service spec: both variants, one set of expectations (docs/contract.md).

Legacy fails every behavioural test by F2 (MissingGreenlet on the expired batch) and
F11 (the job stays `pending` after the client's 202); those runs are strict xfails.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.database import get_engine, get_pool_stats
from playbook.app.factory import create_app
from playbook.app.models import BatchItem, Job
from playbook.app.reads import UnknownJobKindError
from playbook.app.schemas import MAX_BATCH_ITEMS
from playbook.app.settings import Settings, Variant
from playbook.harness.server import RunningApp, serve_in_process
from playbook.upstream.sites import fetch_site
from standardized.services.batch import batch_functions
from standardized.services.batch.batch_functions import (
    process_batch_concurrently,
    process_batch_with_own_session,
)
from tests.concurrency import SETTLE, Gauge, until, writes_blocked
from tests.faults import insert_job, read_stored_job, stored_titles
from tests.helpers import (
    assert_rejected_without_writing,
    aware,
    count_rows,
    error_messages,
    read_job,
    read_results,
    run_to_end,
    statuses_seen,
    submit,
)

BATCHES = "/api/v3/batches"
HEALTHY = ["alpha.test", "beta.test", "gamma.test"]
F2_F11 = "the task reads the expired batch the request committed; the job stays pending"


async def test_batch_is_accepted_as_pending(app: RunningApp) -> None:
    accepted = await submit(app, BATCHES, {"items": HEALTHY})
    assert accepted["status"] == "pending"
    assert (accepted["kind"], accepted["total_items"]) == ("batch", 3)
    assert (accepted["completed_count"], accepted["failed_count"]) == (0, 0)
    aware(accepted["created_at"])
    assert accepted["start_time"] is None and accepted["end_time"] is None
    await app.wait_idle()


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_batch_goes_pending_processing_completed(app: RunningApp) -> None:
    accepted = await submit(app, BATCHES, {"items": ["slow-1.test", "slow-2.test", *HEALTHY]})
    assert await statuses_seen(app, accepted) == ["pending", "processing", "completed"]


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_batch_completes_and_persists_every_item(app: RunningApp, read_engine: AsyncEngine) -> None:
    job = await run_to_end(app, BATCHES, {"items": HEALTHY})

    assert job["status"] == "completed"
    assert (job["completed_count"], job["failed_count"], job["error"]) == (3, 0, None)
    assert job["item_results"] == dict.fromkeys(HEALTHY, "completed")
    assert aware(job["created_at"]) <= aware(job["start_time"]) <= aware(job["end_time"])
    results = await read_results(app, job["id"])
    assert results["items"] == [
        {"domain": domain, "status": "completed", "http_status": 200, "title": f"Home of {domain}", "error": None}
        for domain in sorted(HEALTHY)
    ]
    # Read back in a session of its own: what the database holds, not what a task kept in memory.
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, job["id"])
        domains = await session.scalars(select(BatchItem.domain).where(BatchItem.job_id == stored.id))
        assert (stored.status, stored.completed_count) == ("completed", 3)
        assert sorted(domains) == sorted(HEALTHY)
    assert app.escaped_exceptions == []
    assert get_pool_stats().checked_out == 0, "a connection was left checked out"


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_failing_items_are_recorded_and_processing_continues(app: RunningApp) -> None:
    items = ["alpha.test", "fail-1.test", "missing-1.test", "beta.test", "timeout-1.test", "junk-1.test", "gamma.test"]
    job = await run_to_end(app, BATCHES, {"items": items})

    assert job["status"] == "partial"
    assert (job["completed_count"], job["failed_count"]) == (3, 4)
    outcomes = job["item_results"]
    assert [outcomes[item] for item in ("alpha.test", "beta.test", "gamma.test")] == ["completed"] * 3
    assert outcomes["fail-1.test"] == "failed: HTTP 500"
    assert outcomes["missing-1.test"] == "failed: HTTP 404"
    assert outcomes["timeout-1.test"].startswith("failed: timed out")
    assert outcomes["junk-1.test"] == "failed: not an HTML page (application/octet-stream)"
    # The job's error names the last failing item; every failure is in item_results.
    assert job["error"] == "Error processing item junk-1.test: not an HTML page (application/octet-stream)"
    failed = {
        item["domain"]: item["error"]
        for item in (await read_results(app, job["id"]))["items"]
        if item["status"] == "failed"
    }
    assert failed.keys() == {"fail-1.test", "missing-1.test", "timeout-1.test", "junk-1.test"}
    assert app.escaped_exceptions == []


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_batch_with_every_item_failing_ends_failed(app: RunningApp) -> None:
    job = await run_to_end(app, BATCHES, {"items": ["fail-1.test", "fail-2.test"]})

    assert job["status"] == "failed"
    assert (job["completed_count"], job["failed_count"]) == (0, 2)
    assert job["error"] == "Error processing item fail-2.test: HTTP 500"
    aware(job["end_time"])


BAD_BATCHES = {
    "empty list": ({"items": []}, "List should have at least 1 item"),
    "too many items": (
        {"items": [f"site-{n}.test" for n in range(MAX_BATCH_ITEMS + 1)]},
        f"at most {MAX_BATCH_ITEMS} items",
    ),
    "malformed domain": ({"items": ["alpha.test", "not a domain"]}, "'not a domain' is not a domain name"),
    "domain with a scheme": ({"items": ["http://alpha.test"]}, "'http://alpha.test' is not a domain name"),
    "non-string item": ({"items": ["alpha.test", 42]}, "Input should be a valid string"),
    "duplicate items": (
        {"items": ["alpha.test", "alpha.test"]},
        "items must be unique: 'alpha.test' is listed more than once",
    ),
    "items not a list": ({"items": "alpha.test"}, "Input should be a valid list"),
    "no items field": ({}, "Field required"),
    "unknown field": ({"items": ["alpha.test"], "priority": 1}, "Extra inputs are not permitted"),
}


@pytest.mark.parametrize(("body", "message"), BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
async def test_bad_batch_gets_a_clear_422_and_writes_nothing(
    app: RunningApp, read_engine: AsyncEngine, body: dict[str, Any], message: str
) -> None:
    await assert_rejected_without_writing(app, read_engine, BATCHES, body, message)


async def test_body_that_is_not_json_gets_a_422(app: RunningApp, read_engine: AsyncEngine) -> None:
    jobs_before = await count_rows(read_engine, Job)
    response = await app.client.post(BATCHES, content=b"alpha.test", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON decode error" in error_messages(response.json())
    assert await count_rows(read_engine, Job) == jobs_before


@pytest.mark.parametrize("suffix", ["", "/results"])
async def test_unknown_job_id_is_404(app: RunningApp, suffix: str) -> None:
    job_id = "00000000-0000-4000-8000-000000000000"
    response = await app.client.get(f"/api/v3/jobs/{job_id}{suffix}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"job {job_id} not found"}


async def test_results_of_a_job_of_unknown_kind_fail_loudly(app: RunningApp, read_engine: AsyncEngine) -> None:
    # A row no reader knows (written by a newer version, or by hand) is an error, not an e-mail job.
    async with AsyncSession(read_engine, expire_on_commit=False) as session:
        job = Job(kind="archive", total_items=1)
        session.add(job)
        await session.commit()

    response = await app.client.get(f"/api/v3/jobs/{job.id}/results")

    assert response.status_code == 500
    [escaped] = app.escaped_exceptions
    assert type(escaped) is UnknownJobKindError
    assert str(escaped) == f"job {job.id} has kind 'archive', which has no results reader"


@pytest.mark.parametrize("suffix", ["", "/results"])
async def test_malformed_job_id_is_422(app: RunningApp, suffix: str) -> None:
    response = await app.client.get(f"/api/v3/jobs/not-a-uuid{suffix}")
    assert response.status_code == 422
    assert "Input should be a valid UUID" in error_messages(response.json())


async def test_health_names_the_variant(app: RunningApp, variant: Variant) -> None:
    response = await app.client.get("/health")
    assert response.status_code == 200
    # The spec runs without API keys: open mode, which health says.
    assert response.json() == {"status": "ok", "variant": variant, "auth": "open"}


@pytest.mark.legacy
async def test_legacy_batch_dies_with_missing_greenlet_after_the_202_F2(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    async with serve_in_process(create_app("legacy", database_url=database_url, settings=settings)) as app:
        accepted = await submit(app, BATCHES, {"items": HEALTHY})
        await app.wait_idle()
        # Production never re-raises it: uvicorn logs it once, after the client got its 202.
        [escaped] = app.escaped_exceptions

    assert type(escaped) is MissingGreenlet
    # SQLAlchemy 2.0 says "await_only()", 2.1 says "await_()": match the stable prefix.
    assert str(escaped).startswith("greenlet_spawn has not been called; can't call await_")
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, accepted["id"])
        items = await session.scalars(select(BatchItem).where(BatchItem.job_id == stored.id))
        assert (stored.status, stored.start_time, stored.completed_count, stored.failed_count) == (
            "pending",
            None,
            0,
            0,
        )
        assert stored.item_results == {} and items.all() == []


@pytest.mark.standardized
async def test_concurrent_batch_bounds_connections_and_throttles_progress(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers, flush_every = 4, 5
    # Every answer 20 ms late, so the workers' fetches overlap; a pool three times the workers,
    # so that only the workers can bound the connections, not the pool.
    roomy = settings.model_copy(update={"pool_size": 3 * workers, "upstream_latency_ms": 20})
    items = [f"site-{n}.test" for n in range(39)] + ["fail-1.test"]
    fetching = Gauge()
    monkeypatch.setattr(batch_functions, "fetch_site", fetching.around(fetch_site))
    job_id = await insert_job(read_engine, kind="batch", total_items=len(items))
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=roomy)):
        job_updates: list[str] = []
        event.listen(get_engine().sync_engine, "before_cursor_execute", _record_job_updates(job_updates, job_id))
        get_pool_stats().reset_peak()
        started = time.monotonic()
        async with writes_blocked(read_engine, "batch_items"):
            batch = asyncio.create_task(
                process_batch_concurrently(job_id, items, workers=workers, flush_every=flush_every)
            )
            # Each worker stops in its first write, on a connection of its own: all of them at once, and no more.
            await until(lambda: get_pool_stats().checked_out >= workers or batch.done())
            await asyncio.sleep(SETTLE)
            writing_at_once = get_pool_stats().checked_out
        await batch
        elapsed = time.monotonic() - started
        peak = get_pool_stats().peak

    assert fetching.peak == workers, "the workers did not fetch at once, or more of them did"
    assert writing_at_once == workers and peak <= workers
    # start + finish + one write per `flush_every` items, each worker's remainder, and at most
    # one more per worker for every second it ran (progress is written at least once a second).
    assert len(job_updates) <= 2 + len(items) // flush_every + workers * (1 + int(elapsed))
    # And at least start, finish and one write per `flush_every` items: an upper bound alone
    # holds too if the filter above recorded nothing.
    assert len(job_updates) >= 2 + len(items) // flush_every
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, job_id)
        rows = await session.scalar(select(func.count()).select_from(BatchItem).where(BatchItem.job_id == job_id))
    # Four workers writing to one job at the same moment lose no count and no outcome (R9).
    assert (stored.status, stored.completed_count, stored.failed_count, rows) == ("partial", 39, 1, 40)
    assert stored.item_results["fail-1.test"] == "failed: HTTP 500"
    assert len(stored.item_results) == 40


@pytest.mark.standardized
async def test_background_sessions_leave_a_connection_for_requests(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    # A pool of five, one connection reserved for requests: four background slots, ten workers wanting them.
    small_pool = settings.model_copy(
        update={"pool_size": 5, "max_overflow": 0, "reserved_for_requests": 1, "pool_timeout": 0.5}
    )
    slots = small_pool.background_connections
    items = [f"site-{n}.test" for n in range(20)]
    job_id = await insert_job(read_engine, kind="batch", total_items=len(items))
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=small_pool)) as app:
        async with writes_blocked(read_engine, "batch_items"):
            batch = asyncio.create_task(process_batch_concurrently(job_id, items, workers=10, flush_every=1))
            # Every worker has its first site and waits to write it: the slots fill up, and no more.
            await until(lambda: get_pool_stats().checked_out >= slots or batch.done())
            await asyncio.sleep(SETTLE)
            held_by_workers = get_pool_stats().checked_out
            # The API still gets the connection left to it.
            read = await app.client.get(f"/api/v3/jobs/{job_id}")
        await batch
        job = await read_job(app, str(job_id))

    assert held_by_workers == slots
    assert read.status_code == 200, read.text
    assert (job["status"], job["completed_count"], job["failed_count"]) == ("completed", 20, 0)


def _record_job_updates(updates: list[str], job_id: uuid.UUID) -> Callable[..., None]:
    # This job's updates only: the app's own sweeps update jobs too.
    def before_cursor_execute(
        _conn: object, _cursor: object, statement: str, parameters: tuple[object, ...], *_args: object
    ) -> None:
        if statement.startswith("UPDATE jobs") and job_id in parameters:
            updates.append(statement)

    return before_cursor_execute


@pytest.fixture
async def standardized_runtime(database_url: URL, settings: Settings) -> AsyncIterator[RunningApp]:
    """The standardized app's engine and upstream client bound, for calling job functions directly."""
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as running:
        yield running


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_database_failure_mid_batch_ends_failed_with_the_error(
    app: RunningApp, read_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # The database refuses one item's row: an error the service does not expect.
    async with read_engine.begin() as connection:
        await connection.execute(
            text("ALTER TABLE batch_items ADD CONSTRAINT refuses_one_domain CHECK (domain <> 'refused.test')")
        )
    try:
        job = await run_to_end(app, BATCHES, {"items": ["alpha.test", "refused.test", "beta.test"]})
    finally:
        async with read_engine.begin() as connection:
            await connection.execute(text("ALTER TABLE batch_items DROP CONSTRAINT refuses_one_domain"))

    assert job["status"] == "failed"
    assert job["error"].startswith("IntegrityError: ")
    assert "refuses_one_domain" in job["error"]
    assert job["completed_count"] == 1, "the item before the failure stays counted"
    aware(job["end_time"])
    assert app.escaped_exceptions == []
    # Nor did it escape the task the job ran in: recorded on the job, never raised again.
    assert [record.getMessage() for record in caplog.records if record.name == "standardized.runner"] == []


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_api_stays_responsive_while_a_batch_waits_on_slow_sites(
    variant: Variant, database_url: URL, settings: Settings
) -> None:
    # Nothing reserved: the background session and the API's reads share the one connection.
    one_connection = settings.model_copy(update={"pool_size": 1, "reserved_for_requests": 0, "pool_timeout": 0.5})
    async with serve_in_process(create_app(variant, database_url=database_url, settings=one_connection)) as app:
        accepted = await submit(app, BATCHES, {"items": [f"slow-{n}.test" for n in range(5)]})
        reads = []
        while not app.idle:
            reads.append((await app.client.get(f"/api/v3/jobs/{accepted['id']}")).status_code)
        job = await read_job(app, accepted["id"])

    assert job["status"] == "completed"
    # With no connection held while a site is awaited (R2), one pooled connection serves both.
    assert reads and set(reads) == {200}


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_progress_is_written_while_a_slow_site_is_awaited(
    variant: Variant, database_url: URL, settings: Settings
) -> None:
    # timeout-1.test answers only when the client gives up, 2.5 s in; alpha.test at once.
    patient = settings.model_copy(update={"upstream_timeout": 2.5})
    async with serve_in_process(create_app(variant, database_url=database_url, settings=patient)) as app:
        accepted = await submit(app, BATCHES, {"items": ["alpha.test", "timeout-1.test"]})
        progress: list[tuple[str, int, int]] = []
        while not app.idle:
            job = await read_job(app, accepted["id"])
            progress.append((job["status"], job["completed_count"], job["failed_count"]))
            await asyncio.sleep(0.05)
        job = await read_job(app, accepted["id"])

    # Outcomes wait at most a second to be written: alpha.test is counted while the other site is awaited.
    assert ("processing", 1, 0) in progress
    assert (job["status"], job["completed_count"], job["failed_count"]) == ("partial", 1, 1)


@pytest.mark.standardized
async def test_cancelled_batch_ends_interrupted_to_be_resumed(
    standardized_runtime: RunningApp, read_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await insert_job(read_engine, kind="batch", total_items=3)
    task = asyncio.create_task(process_batch_with_own_session(job_id, ["slow-1.test", "slow-2.test", "slow-3.test"]))
    # The job's row is the only sign the task started: poll the database for it.
    while (await read_stored_job(read_engine, job_id)).status != "processing":  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    stored = await read_stored_job(read_engine, job_id)
    assert f"job {job_id} cancelled before it finished" in caplog.messages
    # Not terminal: a shutdown cancels running jobs, and the next process resumes them.
    assert (stored.status, stored.error, stored.end_time) == ("interrupted", None, None)


@pytest.mark.standardized
async def test_resumed_batch_runs_only_the_items_not_recorded_and_counts_each_once(
    standardized_runtime: RunningApp, read_engine: AsyncEngine
) -> None:
    items = ["alpha.test", "fail-1.test", "beta.test"]
    job_id = await insert_job(read_engine, kind="batch", total_items=3)
    # What a process killed after two items leaves: two recorded, the job still processing.
    await process_batch_with_own_session(job_id, items[:2])
    assert (await read_stored_job(read_engine, job_id)).status == "processing"
    # Marked, so that fetching alpha.test again would show: its row would be written anew.
    async with read_engine.begin() as connection:
        await connection.execute(update(BatchItem).where(BatchItem.job_id == job_id).values(title="first run"))

    await process_batch_with_own_session(job_id, items)

    stored = await read_stored_job(read_engine, job_id)
    assert (stored.status, stored.completed_count, stored.failed_count) == ("partial", 2, 1)
    assert stored.item_results == {
        "alpha.test": "completed",
        "fail-1.test": "failed: HTTP 500",
        "beta.test": "completed",
    }
    titles = await stored_titles(read_engine, job_id)
    assert titles == [("alpha.test", "first run"), ("beta.test", "Home of beta.test"), ("fail-1.test", "first run")]


@pytest.mark.standardized
async def test_finished_batch_is_not_run_again(standardized_runtime: RunningApp, read_engine: AsyncEngine) -> None:
    job_id = await insert_job(read_engine, kind="batch", total_items=1)
    await process_batch_with_own_session(job_id, ["fail-1.test"])
    finished = await read_stored_job(read_engine, job_id)

    # A duplicate delivery of a finished job: nothing is written, the terminal status stays.
    await process_batch_with_own_session(job_id, ["fail-1.test"])

    again = await read_stored_job(read_engine, job_id)
    assert (again.status, again.failed_count, again.end_time) == ("failed", 1, finished.end_time)


@pytest.mark.standardized
async def test_batch_for_a_job_that_does_not_exist_is_logged(
    standardized_runtime: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = uuid.uuid4()
    await process_batch_with_own_session(job_id, ["alpha.test"])

    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == f"job {job_id} failed"
    assert record.exc_info is not None
    assert type(record.exc_info[1]) is LookupError
    assert str(record.exc_info[1]) == f"job {job_id} does not exist"
