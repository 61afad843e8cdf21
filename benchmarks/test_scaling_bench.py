"""One batch on 1, 2 and 4 procrastinate workers: 1,000 items at 50 ms upstream latency.

Each worker is a `python -m playbook worker` process running one part of the batch (50
items) at a time; the batch is queued as parts, and the time runs from the job row and
its queue entries being written to the job's terminal status. `BENCH_SIZES` (its largest
size) and `BENCH_WORKERS` shorten it. The job is read back, so a run that lost items
cannot post a time; `python -m benchmarks.scaling` prints the speed-ups, nothing about
speed is asserted here.
"""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from benchmarks.plan import SIZES, numbers
from playbook.app.models import OPEN_OWNER, TERMINAL_STATUSES, JobKind
from playbook.app.settings import Settings
from playbook.harness.databases import drop_database, prepare_database, resolve_server_url
from playbook.harness.processes import process_env, running_workers
from standardized.executor import ProcrastinateExecutor
from standardized.jobs import create_job

SERVICE = "batch on workers"
ITEMS = max(SIZES)
WORKERS = numbers("BENCH_WORKERS", "1,2,4")
LATENCY_MS = 50
PART_SIZE = 50
BATCH_DEADLINE_SECONDS = 600


@pytest.fixture(scope="module")
def scaling_database() -> Iterator[URL]:
    settings = Settings()
    name = f"playbook_scaling_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(prepare_database(settings, name, replace=True))
    yield url
    asyncio.run(drop_database(resolve_server_url(settings), name))


@pytest.mark.parametrize("workers", WORKERS)
def test_batch_on_workers(benchmark: BenchmarkFixture, scaling_database: URL, workers: int, tmp_path: Path) -> None:
    benchmark.group = f"{SERVICE}: {ITEMS} items, {LATENCY_MS} ms"
    env = process_env(scaling_database, {"worker_concurrency": 1, "upstream_latency_ms": LATENCY_MS})
    runs: list[dict[str, object]] = []
    with running_workers(workers, env=env, log_dir=tmp_path):
        benchmark.pedantic(lambda: runs.append(asyncio.run(run_batch(scaling_database))), rounds=1, iterations=1)

    [run] = runs
    assert (run["status"], run["stored"]) == ("completed", ITEMS)
    benchmark.extra_info.update(
        service=SERVICE,
        variant=f"{workers} worker(s)",
        items=ITEMS,
        latency_ms=LATENCY_MS,
        connections=run["peak_connections"],
    )


async def run_batch(url: URL) -> dict[str, object]:
    """Queue one batch in parts and wait for it to end; its final status, items stored, peak connections.

    An engine of its own, not the bound one: the other benchmarks keep theirs bound for the session.
    """
    items = [f"scaling-{n}.test" for n in range(ITEMS)]
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            job = await create_job(
                session=session, owner=OPEN_OWNER, kind=JobKind.batch, total_items=ITEMS, params={"items": items}
            )
            await ProcrastinateExecutor(part_size=PART_SIZE).enqueue(session=session, jobs=[job])
        peak = 0
        # A worker that died leaves the batch unfinished: the run fails rather than waits for ever.
        async with asyncio.timeout(BATCH_DEADLINE_SECONDS):
            while True:
                async with AsyncSession(engine) as session:
                    status, stored, connections = (
                        await session.execute(
                            text(
                                "SELECT status, (SELECT count(*) FROM batch_items WHERE job_id = :id),"
                                " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())"
                                " FROM jobs WHERE id = :id"
                            ),
                            {"id": job.id},
                        )
                    ).one()
                peak = max(peak, connections)
                if status in TERMINAL_STATUSES:
                    return {"status": status, "stored": stored, "peak_connections": peak}
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
