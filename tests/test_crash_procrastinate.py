"""Crash safety with `EXECUTOR=procrastinate`: the job row and its queue entry, and workers that die.

The app is served in-process with the procrastinate executor; workers are processes of
their own (`python -m playbook worker`), killed or stopped by signal. Standardized only:
the legacy variant runs on BackgroundTasks and refuses `EXECUTOR=procrastinate`.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from playbook.app.factory import create_app
from playbook.app.settings import Settings
from playbook.harness.processes import process_env, running_workers, served_app
from playbook.harness.server import RunningApp, serve_in_process
from tests.faults import (
    FAST_RECOVERY,
    before_each_insert,
    done_at_least,
    finished,
    read_stored_job,
    sites,
    stored_domains,
    wait_for_job,
)

pytestmark = pytest.mark.standardized

QUEUE_LOCK = 4242


def worker_env(database_url: URL, **settings: object) -> dict[str, str]:
    return process_env(database_url, {**FAST_RECOVERY, **settings})


@asynccontextmanager
async def procrastinate_app(database_url: URL, settings: Settings, *, part_size: int) -> AsyncIterator[RunningApp]:
    """The app, queueing batches in parts of `part_size` items for the workers."""
    app_settings = settings.model_copy(
        update={**FAST_RECOVERY, "executor": "procrastinate", "batch_part_size": part_size}
    )
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=app_settings)) as app:
        yield app


async def pid_running(engine: AsyncEngine, job_id: str) -> int:
    """The pid of the process the job row names as running it."""
    async with engine.connect() as connection:
        pid: int = await connection.scalar(
            text("SELECT i.pid FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE j.id = :id"), {"id": job_id}
        )
        return pid


async def pid_of_a_worker_inside_a_part(engine: AsyncEngine, job_id: str, *, workers: int, within: float = 30.0) -> int:
    """The pid the job row names, read while each of `workers` one-part-at-a-time workers runs a
    part of the job: so the process it names is inside a part, not between two."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with engine.connect() as connection:
            pid, running = (
                await connection.execute(
                    text(
                        "SELECT i.pid, (SELECT count(*) FROM procrastinate_jobs q"
                        " WHERE q.status = 'doing' AND q.args->>'job_id' = :id)"
                        " FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE j.id = CAST(:id AS uuid)"
                    ),
                    {"id": job_id},
                )
            ).one()
        if running == workers:
            return int(pid)
        assert loop.time() < deadline, f"never {workers} parts of job {job_id} running at once"
        await asyncio.sleep(0.01)


async def queue_statuses(engine: AsyncEngine, job_id: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.scalars(
            text("SELECT status::text FROM procrastinate_jobs WHERE args->>'job_id' = :id ORDER BY id"), {"id": job_id}
        )
        return list(rows)


async def test_two_workers_one_killed_mid_batch_every_item_stored_once(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, tmp_path: Path
) -> None:
    items = sites(60, prefix="two-workers")
    env = worker_env(database_url, worker_concurrency=1, upstream_latency_ms=50)
    with running_workers(2, env=env, log_dir=tmp_path) as workers:
        async with procrastinate_app(database_url, settings, part_size=10) as app:
            job_id = (await app.client.post("/api/v3/batches", json={"items": items})).json()["id"]
            await wait_for_job(read_engine, job_id, done_at_least(15))
            doomed = await pid_of_a_worker_inside_a_part(read_engine, job_id, workers=2)
            [victim] = [worker for worker in workers if worker.pid == doomed]
            victim.kill()
            job = await wait_for_job(read_engine, job_id, finished)
            queue = await queue_statuses(read_engine, job_id)

    assert (job.status, job.completed_count, job.failed_count) == ("completed", 60, 0)
    assert job.item_results == dict.fromkeys(items, "completed")
    assert await stored_domains(read_engine, job_id) == sorted(items)
    # Six parts of ten items, one run twice: the killed worker's, which the other worker ran again.
    assert job.attempts == 7
    assert queue == [], "every part succeeded (and a succeeded queue entry is deleted)"


async def test_worker_stopped_mid_job_hands_it_back_within_its_grace_period(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, tmp_path: Path
) -> None:
    items = sites(40, prefix="handed-back")
    env = worker_env(database_url, worker_concurrency=1, upstream_latency_ms=100)
    with running_workers(2, env=env, log_dir=tmp_path) as workers:
        # One part: four seconds of work, more than the grace period.
        async with procrastinate_app(database_url, settings, part_size=len(items)) as app:
            job_id = (await app.client.post("/api/v3/batches", json={"items": items})).json()["id"]
            await wait_for_job(read_engine, job_id, done_at_least(5))
            [stopped] = [worker for worker in workers if worker.pid == await pid_running(read_engine, job_id)]
            stopped.terminate()
            # A second of grace, then the job is cancelled: the worker ends by itself, long before the timeout.
            exit_status = await asyncio.to_thread(stopped.wait, 30)
            handed_back = await read_stored_job(read_engine, job_id)
            queue_after_stop = await queue_statuses(read_engine, job_id)
            # The other worker takes it from the queue.
            job = await wait_for_job(read_engine, job_id, finished)

    assert exit_status == 0
    stopped_log = (tmp_path / f"worker-{workers.index(stopped) + 1}.log").read_text()
    assert f"job {job_id} cancelled before it finished" in stopped_log
    # Not finished when its worker ended, and back in the queue: the other worker may have it already.
    assert handed_back.completed_count < 40
    assert handed_back.status in ("interrupted", "processing")
    assert queue_after_stop in (["todo"], ["doing"]), "the job went back to the queue"
    # Run twice: by the stopped worker, then by the other one, which did only what was left.
    assert (job.status, job.completed_count, job.failed_count, job.attempts) == ("completed", 40, 0, 2)
    assert await stored_domains(read_engine, job_id) == sorted(items)


async def test_app_killed_between_the_job_row_and_its_queue_entry_leaves_neither(
    database_url: URL, read_engine: AsyncEngine, tmp_path: Path
) -> None:
    marker = f"orphan-{uuid.uuid4().hex[:8]}.test"
    env = process_env(database_url, {"executor": "procrastinate"})
    async with blocked_queue_inserts(read_engine):
        with served_app("standardized", env=env, log_dir=tmp_path) as app:
            async with httpx.AsyncClient(base_url=app.base_url, timeout=30) as client:
                request = asyncio.create_task(client.post("/api/v3/batches", json={"items": [marker]}))
                backend = await backend_waiting_to_queue(read_engine)
                # The job row is written, its queue entry waits on the lock: the process dies here.
                app.kill()
                with pytest.raises(httpx.TransportError):
                    await request
    await backend_gone(read_engine, backend)

    async with read_engine.connect() as connection:
        jobs = await connection.scalar(
            text("SELECT count(*) FROM jobs WHERE params->'items' ? :item"), {"item": marker}
        )
        queued = await connection.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs j LEFT JOIN jobs a ON a.id::text = j.args->>'job_id'"
                " WHERE j.task_name = 'run_job_part' AND a.id IS NULL"
            )
        )
    assert (jobs, queued) == (0, 0)


@asynccontextmanager
async def blocked_queue_inserts(engine: AsyncEngine) -> AsyncIterator[None]:
    """Queue inserts wait for a lock this test holds, until the block ends."""
    async with engine.connect() as holder:
        await holder.execute(text(f"SELECT pg_advisory_lock({QUEUE_LOCK})"))
        await holder.commit()
        async with before_each_insert(engine, "procrastinate_jobs", f"PERFORM pg_advisory_xact_lock({QUEUE_LOCK})"):
            try:
                yield
            finally:
                # Released before the trigger goes: a blocked insert holds the table until then.
                await holder.execute(text(f"SELECT pg_advisory_unlock({QUEUE_LOCK})"))
                await holder.commit()


async def backend_waiting_to_queue(engine: AsyncEngine, *, within: float = 30.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with engine.connect() as connection:
            pid: int | None = await connection.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            )
        if pid is not None:
            return pid
        await asyncio.sleep(0.02)
    raise AssertionError("no request reached the queue insert")


async def backend_gone(engine: AsyncEngine, pid: int, *, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with engine.connect() as connection:
            if not await connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")
