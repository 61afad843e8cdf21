"""What one session per operation costs the sitemap job: three ways, at 0 and 50 ms upstream latency.

Each round scans a fresh job's domains, all on the simulator's default site layout (six
requests, five documents and seven URLs each); after the last round the job is read back,
so a variant that stopped writing cannot post a good time. Ratios are computed by
`benchmarks/report.py` from the saved JSON, never asserted here.
"""

import uuid
from collections.abc import Callable

import asyncpg
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import func, select

from benchmarks import sitemap_variants
from benchmarks.conftest import SITEMAP_DOMAINS, BenchLoop, record_run, rounds, time_job
from playbook.app.models import Job, SitemapFile, SitemapUrl
from standardized.db import get_background_session

VARIANTS: dict[str, Callable[[asyncpg.Connection], sitemap_variants.SitemapRun]] = {
    "raw_asyncpg": lambda raw_connection: sitemap_variants.raw_asyncpg(raw_connection),
    "single_session": lambda _raw: sitemap_variants.single_session,
    "standardized": lambda _raw: sitemap_variants.standardized,
}
# The default layout of playbook/harness/simulator/sitemaps.py: robots.txt and five documents, seven URLs.
REQUESTS_PER_DOMAIN = 6
FILES_PER_DOMAIN = 5
URLS_PER_DOMAIN = 7


async def _stored(job_id: uuid.UUID) -> tuple[str, int, int | None, int | None]:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        files = await session.scalar(select(func.count()).select_from(SitemapFile).where(SitemapFile.job_id == job_id))
        urls = await session.scalar(
            select(func.count()).select_from(SitemapUrl).join(SitemapFile).where(SitemapFile.job_id == job_id)
        )
        return job.status, job.completed_count, files, urls


@pytest.mark.parametrize("domains", SITEMAP_DOMAINS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_sitemap(
    benchmark: BenchmarkFixture,
    loop: BenchLoop,
    engine_bound: None,
    raw_connection: asyncpg.Connection,
    upstream_latency: int,
    variant: str,
    domains: int,
) -> None:
    benchmark.group = f"sitemap {domains} domains, {upstream_latency} ms"
    run = VARIANTS[variant](raw_connection)
    names = [f"site-{n}.test" for n in range(domains)]
    job_id = time_job(
        benchmark,
        loop,
        kind="sitemap_batch",
        total_items=domains,
        run=lambda job_id: run(job_id, names),
        rounds=rounds(domains * REQUESTS_PER_DOMAIN, upstream_latency),
    )

    assert loop.run(_stored(job_id)) == ("completed", domains, domains * FILES_PER_DOMAIN, domains * URLS_PER_DOMAIN)
    record_run(benchmark, service="sitemap", variant=variant, items=domains, latency_ms=upstream_latency)
