"""What one session per operation costs the batch job: six ways, at each size and upstream latency.

One comparison per size and latency (`benchmarks/paired.py` runs its rounds); every
variant gets the same sites, `site-0.test` onwards, on a fresh job each run. After each
run the job is read back, so a variant that stopped writing cannot post a good time.
Ratios are to the single-session baseline and to the raw asyncpg floor, computed by
`benchmarks/report.py`, never asserted here.
"""

import uuid
from collections.abc import Callable

import asyncpg
from sqlalchemy import func, select

from benchmarks import batch_variants
from benchmarks.paired import Comparison, JobRun
from benchmarks.plan import SIZES, LeftOut, sizes_within_wait
from benchmarks.runtime import Runtime
from playbook.app.models import BatchItem, Job, JobKind
from standardized.db import get_background_session

SERVICE = "batch"
UNIT = "items"
VARIANTS: dict[str, Callable[[asyncpg.Connection], batch_variants.BatchRun]] = {
    "raw_asyncpg": batch_variants.raw_asyncpg,
    "single_session": lambda _raw: batch_variants.single_session,
    "standardized": lambda _raw: batch_variants.standardized,
    "standardized_concurrent": lambda _raw: batch_variants.standardized_concurrent,
    "advanced_alchemy": lambda _raw: batch_variants.advanced_alchemy(),
    "fastapi_async_sqlalchemy": lambda _raw: batch_variants.fastapi_async_sqlalchemy(),
}
# Variants with items in flight at once: their per-item times overlap.
CONCURRENT = frozenset({"standardized_concurrent"})


def sites(count: int) -> list[str]:
    return [f"site-{n}.test" for n in range(count)]


def job_runs(runtime: Runtime, items: int) -> dict[str, JobRun]:
    """Each variant as a run of one job over `items` sites."""
    names = sites(items)

    def on_items(run: batch_variants.BatchRun) -> JobRun:
        return lambda job_id: run(job_id, names)

    return {name: on_items(variant(runtime.raw_connection)) for name, variant in VARIANTS.items()}


async def check_stored(job_id: uuid.UUID, *, items: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        rows = await session.scalar(select(func.count()).select_from(BatchItem).where(BatchItem.job_id == job_id))
    stored = (job.status, job.completed_count, rows) if job else None
    if stored != ("completed", items, items):
        raise AssertionError(f"batch job {job_id}: stored {stored}, expected ('completed', {items}, {items})")


def comparison(runtime: Runtime, *, items: int, latency_ms: int) -> Comparison:
    return Comparison(
        service=SERVICE,
        unit=UNIT,
        items=items,
        latency_ms=latency_ms,
        kind=JobKind.batch,
        variants=job_runs(runtime, items),
        check=lambda job_id: check_stored(job_id, items=items),
        baseline="single_session",
        floor="raw_asyncpg",
        unpooled=frozenset({"raw_asyncpg"}),
    )


def comparisons(runtime: Runtime, latency_ms: int) -> tuple[list[Comparison], list[LeftOut]]:
    """The comparisons to run at `latency_ms`, and the sizes left out."""
    sizes, left_out = sizes_within_wait(SERVICE, UNIT, SIZES, requests_per_unit=1, latency_ms=latency_ms)
    return [comparison(runtime, items=size, latency_ms=latency_ms) for size in sizes], left_out
