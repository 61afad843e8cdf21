"""What one session per operation costs the sitemap job: three ways, at each size and upstream latency.

Each run scans a fresh job's domains, all on the simulator's default site layout (six
requests, five documents and seven URLs each); after each run the job is read back, so a
variant that stopped writing cannot post a good time. Ratios are computed by
`benchmarks/report.py`, never asserted here.
"""

import uuid

from sqlalchemy import func, select

from benchmarks import sitemap_variants
from benchmarks.paired import Comparison, JobRun
from benchmarks.plan import SITEMAP_DOMAINS, LeftOut, sizes_within_wait
from benchmarks.runtime import Runtime
from playbook.app.models import Job, JobKind, SitemapFile, SitemapUrl
from standardized.db import get_background_session

SERVICE = "sitemap"
UNIT = "domains"
# The default layout of playbook/harness/simulator/sitemaps.py: robots.txt and five documents, seven URLs.
REQUESTS_PER_DOMAIN = 6
FILES_PER_DOMAIN = 5
URLS_PER_DOMAIN = 7


def job_runs(runtime: Runtime, domains: int) -> dict[str, JobRun]:
    names = [f"site-{n}.test" for n in range(domains)]
    variants: dict[str, sitemap_variants.SitemapRun] = {
        "raw_asyncpg": sitemap_variants.raw_asyncpg(runtime.raw_connection),
        "single_session": sitemap_variants.single_session,
        "standardized": sitemap_variants.standardized,
    }

    def on_domains(run: sitemap_variants.SitemapRun) -> JobRun:
        return lambda job_id: run(job_id, names)

    return {name: on_domains(run) for name, run in variants.items()}


async def check_stored(job_id: uuid.UUID, *, domains: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        files = await session.scalar(select(func.count()).select_from(SitemapFile).where(SitemapFile.job_id == job_id))
        urls = await session.scalar(
            select(func.count()).select_from(SitemapUrl).join(SitemapFile).where(SitemapFile.job_id == job_id)
        )
    stored = (job.status, job.completed_count, files, urls) if job else None
    expected = ("completed", domains, domains * FILES_PER_DOMAIN, domains * URLS_PER_DOMAIN)
    if stored != expected:
        raise AssertionError(f"sitemap job {job_id}: stored {stored}, expected {expected}")


def comparison(runtime: Runtime, *, domains: int, latency_ms: int) -> Comparison:
    return Comparison(
        service=SERVICE,
        unit=UNIT,
        items=domains,
        latency_ms=latency_ms,
        kind=JobKind.sitemap_batch,
        variants=job_runs(runtime, domains),
        check=lambda job_id: check_stored(job_id, domains=domains),
        baseline="single_session",
        floor="raw_asyncpg",
        unpooled=frozenset({"raw_asyncpg"}),
    )


def comparisons(runtime: Runtime, latency_ms: int) -> tuple[list[Comparison], list[LeftOut]]:
    """The comparisons to run at `latency_ms`, and the sizes left out."""
    sizes, left_out = sizes_within_wait(
        SERVICE, UNIT, SITEMAP_DOMAINS, requests_per_unit=REQUESTS_PER_DOMAIN, latency_ms=latency_ms
    )
    return [comparison(runtime, domains=size, latency_ms=latency_ms) for size in sizes], left_out
