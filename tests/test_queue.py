"""The procrastinate side, without worker processes: fast tests of what the workers run.

The queue entry the app writes in its own transaction is checked against the one
procrastinate's own defer writes, on procrastinate's pinned schema in PostgreSQL. The
tasks (a job part, the stalled-jobs retry, the time limit) run on procrastinate's
`InMemoryConnector`, with the app's rows in PostgreSQL as everywhere else.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from procrastinate.jobs import Job as QueueJob
from procrastinate.testing import InMemoryConnector
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.factory import bound_resources
from playbook.app.models import JobStatus
from playbook.app.settings import Settings
from standardized.executor import defer_parts, part_lock
from standardized.job_functions import Part
from standardized.worker import (
    DB_LOST_RETRY_DELAY,
    MAINTENANCE_QUEUE,
    QUEUE_NAME,
    RUN_AGAIN_IF_WORTH_IT,
    queue_app,
    queue_connector,
    retry_stalled_jobs,
    run_job_part,
)
from tests.faults import insert_job, read_stored_job

pytestmark = pytest.mark.standardized

QUEUE_COLUMNS = "queue_name, task_name, priority, lock, queueing_lock, args, status::text, scheduled_at, attempts"


@asynccontextmanager
async def in_memory_queue(database_url: URL, settings: Settings) -> AsyncIterator[InMemoryConnector]:
    """procrastinate on its in-memory connector; the app's engine and upstream bound as a worker binds them."""
    connector = InMemoryConnector()
    async with bound_resources(database_url, settings):
        with queue_app.replace_connector(connector):
            async with queue_app.open_async():
                yield connector


async def run_queue(queue: str) -> None:
    """One worker on `queue` until it finds nothing more to do."""
    await queue_app.run_worker_async(queues=[queue], wait=False, install_signal_handlers=False)


async def test_queue_entry_written_in_the_app_transaction_is_the_one_procrastinate_writes(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    job_id = uuid.uuid4()
    part = Part(1, 3)
    lock = part_lock(job_id, part)
    async with AsyncSession(read_engine) as session:
        await defer_parts(session=session, job_id=job_id, parts=[part])
        await session.commit()
    ours = await take_queue_entry(read_engine, lock)
    with queue_app.replace_connector(queue_connector(database_url, settings)):
        async with queue_app.open_async():
            deferrer = run_job_part.configure(lock=lock, queueing_lock=lock)
            await deferrer.defer_async(job_id=str(job_id), part=1, parts=3)
    theirs = await take_queue_entry(read_engine, lock)

    assert ours == theirs
    assert (ours.queue_name, ours.task_name, ours.status) == (QUEUE_NAME, "run_job_part", "todo")
    assert ours.args == {"job_id": str(job_id), "part": 1, "parts": 3}


async def take_queue_entry(engine, lock: str):  # type: ignore[no-untyped-def]
    """The queue entry with `lock`, deleted from the queue: what procrastinate stored, but its id."""
    async with engine.begin() as connection:
        taken = await connection.execute(
            text(f"DELETE FROM procrastinate_jobs WHERE lock = :lock RETURNING {QUEUE_COLUMNS}"), {"lock": lock}
        )
        return taken.one()


async def test_queue_entry_rolled_back_with_the_app_transaction(read_engine: AsyncEngine) -> None:
    job_id = uuid.uuid4()
    async with read_engine.connect() as connection:
        async with AsyncSession(bind=connection) as session:
            await defer_parts(session=session, job_id=job_id, parts=[Part()])
            await session.rollback()
        left = await connection.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'job_id' = :id"), {"id": str(job_id)}
        )
    assert left == 0


async def test_a_part_already_waiting_is_not_queued_twice(read_engine: AsyncEngine) -> None:
    job_id = uuid.uuid4()
    async with read_engine.begin() as connection:
        async with AsyncSession(bind=connection) as session:
            for _ in range(2):
                await defer_parts(session=session, job_id=job_id, parts=[Part(0, 2), Part(1, 2)])
        queued = await connection.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'job_id' = :id"), {"id": str(job_id)}
        )
        await connection.execute(
            text("DELETE FROM procrastinate_jobs WHERE args->>'job_id' = :id"), {"id": str(job_id)}
        )
    assert queued == 2


async def test_every_part_of_a_batch_is_queued_in_one_statement(read_engine: AsyncEngine) -> None:
    job_id = uuid.uuid4()
    parts = [Part(index, 20) for index in range(20)]
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    async with read_engine.begin() as connection:
        async with AsyncSession(bind=connection) as session:
            event.listen(read_engine.sync_engine, "before_cursor_execute", record)
            try:
                await defer_parts(session=session, job_id=job_id, parts=parts)
            finally:
                event.remove(read_engine.sync_engine, "before_cursor_execute", record)
        locks = await connection.scalars(
            text("SELECT lock FROM procrastinate_jobs WHERE args->>'job_id' = :id ORDER BY id"), {"id": str(job_id)}
        )
        queued = list(locks)
        await connection.execute(
            text("DELETE FROM procrastinate_jobs WHERE args->>'job_id' = :id"), {"id": str(job_id)}
        )

    assert len(statements) == 1
    assert queued == [part_lock(job_id, part) for part in parts], "every part, in order"


async def test_job_part_runs_the_standardized_job_function(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    items = ["alpha.test", "beta.test", "gamma.test", "delta.test"]
    job_id = await insert_job(read_engine, kind="batch", params={"items": items}, total_items=len(items))
    async with in_memory_queue(database_url, settings):
        for index in range(2):
            await run_job_part.defer_async(job_id=str(job_id), part=index, parts=2)
        await run_queue(QUEUE_NAME)

    job = await read_stored_job(read_engine, job_id)
    assert (job.status, job.completed_count, job.attempts) == ("completed", 4, 2)
    assert job.item_results == dict.fromkeys(items, "completed")


async def test_job_hung_past_its_time_limit_is_failed_with_the_reason(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    job_id = await insert_job(read_engine, kind="batch", params={"items": ["timeout-1.test"]}, total_items=1)
    hanging = settings.model_copy(update={"job_time_limit": 0.3, "upstream_timeout": 30.0})
    async with in_memory_queue(database_url, hanging) as connector:
        await run_job_part.defer_async(job_id=str(job_id), part=0, parts=1)
        await run_queue(QUEUE_NAME)

    job = await read_stored_job(read_engine, job_id)
    assert (job.status, job.error, job.completed_count) == ("failed", "time limit of 0.3 s exceeded", 0)
    runs = [row["status"] for row in connector.jobs.values() if row["task_name"] == run_job_part.name]
    assert runs == ["succeeded"], "not run again"


async def test_stalled_jobs_are_queued_again_until_they_are_out_of_runs(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    once = await insert_job(read_engine, kind="batch", params={"items": ["a.test"]}, total_items=1)
    twice = await insert_job(read_engine, kind="batch", params={"items": ["b.test"]}, total_items=1)
    async with in_memory_queue(database_url, settings.model_copy(update={"max_attempts": 3})) as connector:
        stalled = {}
        for job_id, attempts in ((once, 0), (twice, 2)):
            queued = await run_job_part.defer_async(job_id=str(job_id), part=0, parts=1)
            # Taken by a worker that has never beaten since: stalled.
            connector.jobs[queued].update(status="doing", worker_id=99, attempts=attempts)
            stalled[job_id] = queued
        await retry_stalled_jobs.configure(task_kwargs={"timestamp": 0}).defer_async()
        await run_queue(MAINTENANCE_QUEUE)

    assert (connector.jobs[stalled[once]]["status"], connector.jobs[stalled[once]]["attempts"]) == ("todo", 1)
    assert connector.jobs[stalled[twice]]["status"] == "failed"
    given_up = await read_stored_job(read_engine, twice)
    assert (given_up.status, given_up.error) == (
        JobStatus.failed,
        "its worker stopped in each of its 3 runs: no more are made",
    )
    assert (await read_stored_job(read_engine, once)).status == JobStatus.pending


async def test_a_run_goes_back_to_the_queue_after_a_shutdown_or_a_lost_database_only(
    database_url: URL, settings: Settings
) -> None:
    def queue_job(attempts: int) -> QueueJob:
        return QueueJob(
            id=1, queue=QUEUE_NAME, lock=None, queueing_lock=None, task_name="run_job_part", attempts=attempts
        )

    lost_database = ConnectionRefusedError("connection refused")
    async with in_memory_queue(database_url, settings.model_copy(update={"max_attempts": 3})):
        shutdown = RUN_AGAIN_IF_WORTH_IT.get_retry_decision(exception=asyncio.CancelledError(), job=queue_job(5))
        outage = RUN_AGAIN_IF_WORTH_IT.get_retry_decision(exception=lost_database, job=queue_job(1))
        outage_on_the_last_run = RUN_AGAIN_IF_WORTH_IT.get_retry_decision(exception=lost_database, job=queue_job(2))
        anything_else = RUN_AGAIN_IF_WORTH_IT.get_retry_decision(exception=RuntimeError("boom"), job=queue_job(0))

    assert shutdown is not None and outage is not None
    # Both decisions were taken within a second of each other: the outage waits its delay, the shutdown none.
    assert shutdown.retry_at is not None and outage.retry_at is not None
    assert outage.retry_at - shutdown.retry_at > timedelta(seconds=DB_LOST_RETRY_DELAY - 1)
    assert (outage_on_the_last_run, anything_else) == (None, None)


async def test_a_run_failing_outside_the_jobs_own_handling_fails_the_job(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    # A row the job function cannot read (written by another version of the app, say): the
    # error escapes before the job's own handling starts, so only the task can record it.
    job_id = await insert_job(read_engine, kind="batch", params={"domains": ["a.test"]}, total_items=1)
    async with in_memory_queue(database_url, settings) as connector:
        await run_job_part.defer_async(job_id=str(job_id), part=0, parts=1)
        await run_queue(QUEUE_NAME)

    job = await read_stored_job(read_engine, job_id)
    assert (job.status, job.error, job.attempts) == ("failed", "KeyError: 'items'", 1)
    assert job.end_time is not None
    runs = [row["status"] for row in connector.jobs.values() if row["task_name"] == run_job_part.name]
    assert runs == ["failed"], "not run again: the same row would fail the same way"
