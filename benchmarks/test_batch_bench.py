"""What one session per operation costs: the batch job, six ways, at 0 and 50 ms upstream latency.

Each round processes a fresh job; after the last round the job is read back, so a
variant that stopped writing cannot post a good time. Ratios are computed by
`benchmarks/report.py` from the saved JSON, never asserted here.
"""

import uuid

import pytest
from sqlalchemy import func, select

from benchmarks import batch_variants
from benchmarks.conftest import SIZES, create_batch_job
from playbook.database import get_pool_stats
from playbook.models import BatchItem, Job
from standardized.db import get_background_session

VARIANTS = {
    "raw_asyncpg": lambda raw_connection: batch_variants.raw_asyncpg(raw_connection),
    "single_session": lambda _raw: batch_variants.single_session,
    "standardized": lambda _raw: batch_variants.standardized,
    "standardized_concurrent": lambda _raw: batch_variants.standardized_concurrent,
    "advanced_alchemy": lambda _raw: batch_variants.advanced_alchemy(),
    "fastapi_async_sqlalchemy": lambda _raw: batch_variants.fastapi_async_sqlalchemy(),
}


def _rounds(size: int, latency_ms: int) -> int:
    return 1 if latency_ms and size >= 100 else max(1, min(5, 500 // size))


async def _stored(job_id: uuid.UUID) -> tuple[str, int, int]:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        rows = await session.scalar(select(func.count()).select_from(BatchItem).where(BatchItem.job_id == job_id))
        return job.status, job.completed_count, rows


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_batch(benchmark, loop, engine_bound, raw_connection, upstream_latency, variant, size):
    benchmark.group = f"batch {size} items, {upstream_latency} ms"
    run = VARIANTS[variant](raw_connection)
    items = [f"site-{n}.test" for n in range(size)]
    job_ids: list[uuid.UUID] = []

    def new_job():
        job_ids.append(loop.run(create_batch_job(size)))
        get_pool_stats().reset_peak()
        return (job_ids[-1],), {}

    benchmark.pedantic(lambda job_id: loop.run(run(job_id, items)), setup=new_job, rounds=_rounds(size, upstream_latency))

    assert loop.run(_stored(job_ids[-1])) == ("completed", size, size)
    benchmark.extra_info.update(
        variant=variant,
        items=size,
        latency_ms=upstream_latency,
        connections=1 if variant == "raw_asyncpg" else get_pool_stats().peak,
    )
