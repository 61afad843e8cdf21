"""What one session per operation costs a places search: three ways, at 0 and 50 ms upstream latency.

Each round runs one search of a fresh job; the query's length sets how many pages the
simulator serves (three places per character, twenty a page, at most four pages). Every
page waits for the simulator's own Places latency and, after the first, for its page token
to become valid, so the upstream dominates here more than in the other jobs. After the
last round the job is read back, so a variant that stopped writing cannot post a good
time. Ratios are computed by `benchmarks/report.py` from the saved JSON, never asserted here.
"""

import uuid
from collections.abc import Callable

import asyncpg
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import func, select

from benchmarks import places_variants
from benchmarks.conftest import PLACES_PAGES, BenchLoop, record_run, rounds, time_job
from playbook.app.models import Job, JobPlace
from playbook.harness.simulator.places_api import search_results
from standardized.db import get_background_session

VARIANTS: dict[str, Callable[[asyncpg.Connection], places_variants.PlacesRun]] = {
    "raw_asyncpg": lambda raw_connection: places_variants.raw_asyncpg(raw_connection),
    "single_session": lambda _raw: places_variants.single_session,
    "standardized": lambda _raw: places_variants.standardized,
}
LOCATION = "Austin, TX"
QUERY_FOR_PAGES = {1: "bakery", 2: "dentists", 3: "vegan restaurant", 4: "independent bookshops"}


async def _stored(job_id: uuid.UUID) -> tuple[str, int, int, int | None]:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        links = await session.scalar(select(func.count()).select_from(JobPlace).where(JobPlace.job_id == job_id))
        return job.status, job.total_items, job.completed_count, links


@pytest.mark.parametrize("pages", PLACES_PAGES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_places(
    benchmark: BenchmarkFixture,
    loop: BenchLoop,
    engine_bound: None,
    raw_connection: asyncpg.Connection,
    upstream_latency: int,
    variant: str,
    pages: int,
) -> None:
    benchmark.group = f"places {pages} pages, {upstream_latency} ms"
    run = VARIANTS[variant](raw_connection)
    query = QUERY_FOR_PAGES[pages]
    job_id = time_job(
        benchmark,
        loop,
        kind="places_search",
        total_items=0,
        run=lambda job_id: run(job_id, query, LOCATION),
        rounds=rounds(pages, upstream_latency),
    )

    places = len(search_results(query, LOCATION))
    assert loop.run(_stored(job_id)) == ("completed", pages, pages, places)
    record_run(benchmark, service="places", variant=variant, items=pages, latency_ms=upstream_latency)
