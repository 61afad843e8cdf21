"""What one session per operation costs a places search: three ways, at each size and upstream latency.

Each run is one search on a fresh job; the query's length sets how many pages the
simulator serves (three places per character, twenty a page, at most four pages). Every
page waits for the simulator's own Places latency and, after the first, for its page token
to become valid, so the upstream dominates here more than in the other jobs. After each
run the job is read back, so a variant that stopped writing cannot post a good time.
Ratios are computed by `benchmarks/report.py`, never asserted here.
"""

import uuid

from sqlalchemy import func, select

from benchmarks import places_variants
from benchmarks.paired import Comparison, JobRun
from benchmarks.plan import PLACES_PAGES, LeftOut, sizes_within_wait
from benchmarks.runtime import Runtime
from playbook.app.models import Job, JobKind, JobPlace
from playbook.harness.simulator.places_api import search_results
from standardized.db import get_background_session

SERVICE = "places"
UNIT = "pages"
LOCATION = "Austin, TX"
QUERY_FOR_PAGES = {1: "bakery", 2: "dentists", 3: "vegan restaurant", 4: "independent bookshops"}


def job_runs(runtime: Runtime, pages: int) -> dict[str, JobRun]:
    query = QUERY_FOR_PAGES[pages]
    variants: dict[str, places_variants.PlacesRun] = {
        "raw_asyncpg": places_variants.raw_asyncpg(runtime.raw_connection),
        "single_session": places_variants.single_session,
        "standardized": places_variants.standardized,
    }

    def on_query(run: places_variants.PlacesRun) -> JobRun:
        return lambda job_id: run(job_id, query, LOCATION)

    return {name: on_query(run) for name, run in variants.items()}


async def check_stored(job_id: uuid.UUID, *, pages: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        links = await session.scalar(select(func.count()).select_from(JobPlace).where(JobPlace.job_id == job_id))
    stored = (job.status, job.total_items, job.completed_count, links) if job else None
    expected = ("completed", pages, pages, len(search_results(QUERY_FOR_PAGES[pages], LOCATION)))
    if stored != expected:
        raise AssertionError(f"places job {job_id}: stored {stored}, expected {expected}")


def comparison(runtime: Runtime, *, pages: int, latency_ms: int) -> Comparison:
    return Comparison(
        service=SERVICE,
        unit=UNIT,
        items=pages,
        latency_ms=latency_ms,
        kind=JobKind.places_search,
        variants=job_runs(runtime, pages),
        check=lambda job_id: check_stored(job_id, pages=pages),
        baseline="single_session",
        floor="raw_asyncpg",
        total_items=0,  # the search sets it as pages arrive
        unpooled=frozenset({"raw_asyncpg"}),
    )


def comparisons(runtime: Runtime, latency_ms: int) -> tuple[list[Comparison], list[LeftOut]]:
    """The comparisons to run at `latency_ms`, and the sizes left out."""
    sizes, left_out = sizes_within_wait(SERVICE, UNIT, PLACES_PAGES, requests_per_unit=1, latency_ms=latency_ms)
    return [comparison(runtime, pages=size, latency_ms=latency_ms) for size in sizes], left_out
