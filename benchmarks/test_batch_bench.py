"""What one session per operation costs: the batch job, six ways, at 0 and 50 ms upstream latency.

Each round processes a fresh job; after the last round the job is read back, so a
variant that stopped writing cannot post a good time. Ratios are computed by
`benchmarks/report.py` from the saved JSON, never asserted here.
"""

import uuid
from collections.abc import Callable

import asyncpg
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import func, select

from benchmarks import batch_variants
from benchmarks.conftest import SIZES, BenchLoop, record_run, rounds, time_job
from playbook.app.models import BatchItem, Job
from standardized.db import get_background_session

VARIANTS: dict[str, Callable[[asyncpg.Connection], batch_variants.BatchRun]] = {
    "raw_asyncpg": lambda raw_connection: batch_variants.raw_asyncpg(raw_connection),
    "single_session": lambda _raw: batch_variants.single_session,
    "standardized": lambda _raw: batch_variants.standardized,
    "standardized_concurrent": lambda _raw: batch_variants.standardized_concurrent,
    "advanced_alchemy": lambda _raw: batch_variants.advanced_alchemy(),
    "fastapi_async_sqlalchemy": lambda _raw: batch_variants.fastapi_async_sqlalchemy(),
}


async def _stored(job_id: uuid.UUID) -> tuple[str, int, int | None]:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        rows = await session.scalar(select(func.count()).select_from(BatchItem).where(BatchItem.job_id == job_id))
        return job.status, job.completed_count, rows


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_batch(
    benchmark: BenchmarkFixture,
    loop: BenchLoop,
    engine_bound: None,
    raw_connection: asyncpg.Connection,
    upstream_latency: int,
    variant: str,
    size: int,
) -> None:
    benchmark.group = f"batch {size} items, {upstream_latency} ms"
    run = VARIANTS[variant](raw_connection)
    items = [f"site-{n}.test" for n in range(size)]
    job_id = time_job(
        benchmark,
        loop,
        kind="batch",
        total_items=size,
        run=lambda job_id: run(job_id, items),
        rounds=rounds(size, upstream_latency),  # one upstream request per item
    )

    assert loop.run(_stored(job_id)) == ("completed", size, size)
    record_run(benchmark, service="batch", variant=variant, items=size, latency_ms=upstream_latency)
