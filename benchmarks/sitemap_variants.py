"""The sitemap batch job written three ways, for the benchmarks only.

Every variant crawls the same domains and makes the same writes: mark the job processing,
then per domain, in one transaction, delete what an earlier attempt stored, insert each
sitemap document (RETURNING its id for the documents nested below), its URLs in one
executemany, and an atomic update of the job's counters; then the final status. They
differ in how they get a connection and how many domains run at once:

- `raw_asyncpg`: one asyncpg connection, hand-written SQL, one domain after another; the floor.
- `single_session`: one `AsyncSession` (expire_on_commit=False) for the whole job, a commit
  per domain, one domain after another, through the service's own `store_domain`.
- `standardized`: the shipped `process_batch_background`: `WORKERS` workers, a session per domain.

There is no sequential form of the standardized job: its worker count is the module's
`WORKERS`, with no argument to set it. The peer libraries' session helpers are measured
on the batch job only. None of these but the standardized one is meant for the service.
"""

import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.batch_variants import RAW_FINISH_JOB, RAW_START_JOB, raw_count_item
from playbook.app.database import get_engine
from playbook.upstream.sitemaps import Sitemap
from standardized.jobs import finish_job, start_job
from standardized.services.sitemap.background_service import (
    crawl_or_error,
    process_batch_background,
    store_domain,
)

SitemapRun = Callable[[uuid.UUID, list[str]], Coroutine[Any, Any, None]]

_RAW_FORGET_DOMAIN = "DELETE FROM sitemap_files WHERE job_id = $1 AND domain = $2"
_RAW_INSERT_FILE = """
INSERT INTO sitemap_files (job_id, domain, url, kind, parent_id, url_count) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id"""
_RAW_INSERT_URL = "INSERT INTO sitemap_urls (sitemap_file_id, loc, lastmod) VALUES ($1, $2, $3)"


def raw_asyncpg(connection: asyncpg.Connection) -> SitemapRun:
    async def run(job_id: uuid.UUID, domains: list[str]) -> None:
        await connection.execute(RAW_START_JOB, job_id)
        for domain in domains:
            sitemaps, error = await crawl_or_error(job_id=job_id, domain=domain)
            async with connection.transaction():
                await connection.execute(_RAW_FORGET_DOMAIN, job_id, domain)
                await _raw_store_sitemaps(connection, job_id=job_id, domain=domain, sitemaps=sitemaps)
                await raw_count_item(connection, job_id=job_id, item=domain, error=error)
        await connection.execute(RAW_FINISH_JOB, job_id)

    return run


async def _raw_store_sitemaps(
    connection: asyncpg.Connection, *, job_id: uuid.UUID, domain: str, sitemaps: list[Sitemap]
) -> None:
    file_ids: dict[str | None, int | None] = {None: None}
    for sitemap in sitemaps:
        file_ids[sitemap.url] = await connection.fetchval(
            _RAW_INSERT_FILE, job_id, domain, sitemap.url, sitemap.kind, file_ids[sitemap.parent_url], len(sitemap.urls)
        )
        if sitemap.urls:
            await connection.executemany(
                _RAW_INSERT_URL, [(file_ids[sitemap.url], url.loc, url.lastmod) for url in sitemap.urls]
            )


async def single_session(job_id: uuid.UUID, domains: list[str]) -> None:
    await start_job(job_id=job_id)
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        for domain in domains:
            sitemaps, error = await crawl_or_error(job_id=job_id, domain=domain)
            await store_domain(session=session, job_id=job_id, domain=domain, sitemaps=sitemaps, error=error)
            await session.commit()
    await finish_job(job_id=job_id)


async def standardized(job_id: uuid.UUID, domains: list[str]) -> None:
    await process_batch_background(job_id, domains)
