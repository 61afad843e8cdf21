"""Crash safety in background mode (jobs in the app's own process), against real faults.

The app killed outright and started again, the database stopped abruptly and started
again (on a server of its own, so no other test sees it), the job's own connection
terminated by the server mid-write. Each time the job ends `completed` with every item
stored once and the counters matching. These are standardized behaviours: legacy has no
recovery to test (its batch never gets past F2), and the legacy rows of the same faults
are shown by `make compare`.
"""

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from playbook.app.factory import create_app
from playbook.app.models import Job
from playbook.app.settings import Settings
from playbook.harness.databases import prepare_database
from playbook.harness.embedded import throwaway_server
from playbook.harness.processes import process_env, served_app
from playbook.harness.server import serve_in_process
from tests.faults import (
    FAST_RECOVERY,
    done_at_least,
    finished,
    read_stored_job,
    sites,
    slow_inserts,
    stored_domains,
    wait_for_job,
)

pytestmark = pytest.mark.standardized

ITEMS = sites(30)


def assert_every_item_once(job: Job, domains: list[str]) -> None:
    assert (job.status, job.completed_count, job.failed_count, job.error) == ("completed", len(ITEMS), 0, None)
    assert job.item_results == dict.fromkeys(ITEMS, "completed")
    assert domains == sorted(ITEMS), "an item is missing or stored twice"


async def test_app_killed_mid_job_resumes_it_once_started_again(
    database_url: URL, read_engine: AsyncEngine, tmp_path: Path
) -> None:
    env = process_env(database_url, {**FAST_RECOVERY, "upstream_latency_ms": 100})
    with served_app("standardized", env=env, log_dir=tmp_path) as app:
        async with httpx.AsyncClient(base_url=app.base_url, timeout=30) as client:
            job_id = (await client.post("/api/v3/batches", json={"items": ITEMS})).json()["id"]
        before = await wait_for_job(read_engine, job_id, done_at_least(5))
        app.kill()
        killed = await read_stored_job(read_engine, job_id)
        app.start()
        job = await wait_for_job(read_engine, job_id, finished)

    assert (before.status, killed.status) == ("processing", "processing"), "a killed process writes nothing"
    assert killed.instance_id != job.instance_id, "the job was taken over by the new process"
    assert job.attempts == 2
    assert_every_item_once(job, await stored_domains(read_engine, job_id))


async def test_database_restarted_mid_job_the_job_completes(settings: Settings) -> None:
    with throwaway_server() as server:
        url = await prepare_database(
            settings.model_copy(update={"database_url": str(server.url)}), "restart", replace=True
        )
        engine = create_async_engine(url, poolclass=NullPool)
        app_settings = settings.model_copy(update={**FAST_RECOVERY, "upstream_latency_ms": 100})
        try:
            async with serve_in_process(create_app("standardized", database_url=url, settings=app_settings)) as app:
                job_id = (await app.client.post("/api/v3/batches", json={"items": ITEMS})).json()["id"]
                await wait_for_job(engine, job_id, done_at_least(5))
                # Down for two seconds, then up again: nothing restarts the app or the job.
                await asyncio.to_thread(server.crash_and_restart, down_for=2.0)
                job = await wait_for_job(engine, job_id, finished)
                health = await app.client.get("/health")
            assert_every_item_once(job, await stored_domains(engine, job_id))
            assert job.attempts == 1, "the writes waited for the database: the job went on in its first run"
            assert health.status_code == 200
            assert app.escaped_exceptions == []
        finally:
            await engine.dispose()


async def test_job_backend_terminated_mid_write_the_job_completes(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    # Item rows are written slowly, so that the job's connection is caught in the middle of one.
    async with (
        slow_inserts(read_engine, "batch_items", seconds=0.1),
        serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app,
    ):
        job_id = (await app.client.post("/api/v3/batches", json={"items": ITEMS})).json()["id"]
        terminated = [await terminate_the_backend_writing_items(read_engine) for _ in range(3)]
        job = await wait_for_job(read_engine, job_id, finished)

    assert all(terminated)
    assert_every_item_once(job, await stored_domains(read_engine, job_id))
    assert job.attempts == 1, "the writes were retried: the job went on in its first run"
    assert app.escaped_exceptions == []


async def terminate_the_backend_writing_items(engine: AsyncEngine, *, within: float = 30.0) -> bool:
    """Wait until a connection of this database is inserting an item row, and terminate it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with engine.connect() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND state = 'active' AND query LIKE 'INSERT INTO batch_items%'"
                )
            )
        if killed:
            return True
        await asyncio.sleep(0.02)
    return False
