"""Sitemap processing, the standard way: the work order's `process_domain_background` and
`process_batch_background`.

Shows: a task that receives the job id and plain data (R1); each domain crawled with no
session open (R2); what a domain produced stored in one short session together with its
count, so a domain is recorded whole or not at all (R1, R9); summaries taken from the
crawl's plain data, never from relationships or `updated_at` loaded back (R3); a batch's
domains shared out to a fixed number of workers, each opening its own sessions (R4); a
resumed job that scans only the domains not stored yet, and replaces what an earlier
attempt stored for a domain it scans again (R7); a job that always ends terminal with
its error recorded (R5, R6).
Does not guarantee: that a crawl is fast or polite; domains are crawled `WORKERS` at a
time with no per-host rate limit. What a domain fails on, and the caps, are in `playbook.upstream.sitemaps`.
"""

import logging
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import SitemapFile, SitemapUrl
from playbook.upstream.sitemaps import CrawlError, Sitemap, crawl_domain
from standardized.db import run_in_transaction
from standardized.jobs import finish_job, record_item, run_job, run_workers, start_job

logger = logging.getLogger(__name__)

WORKERS = 4
INSERT_SLICE = 1000


async def process_domain_background(job_id: uuid.UUID, domain: str) -> None:
    """Background entry point: scan the sitemaps of `domain` for job `job_id`."""
    await run_job(job_id=job_id, work=_scan_domains(job_id=job_id, domains=[domain]))


async def process_batch_background(job_id: uuid.UUID, domains: list[str]) -> None:
    """Background entry point: scan the sitemaps of every domain of job `job_id`."""
    await run_job(job_id=job_id, work=_scan_domains(job_id=job_id, domains=domains))


async def _scan_domains(*, job_id: uuid.UUID, domains: list[str]) -> None:
    logger.info("sitemap job %s: %d domains to scan", job_id, len(domains))
    # Timed here, not read back from `updated_at` after a commit (F3).
    started = time.perf_counter()
    recorded = await start_job(job_id=job_id)
    # A resumed job scans only the domains the database does not hold yet (R7).
    domains = [domain for domain in domains if domain not in recorded]
    # Workers share the list of domains, never a session: at most WORKERS crawls run at once,
    # and at most WORKERS connections are held for them (R4).
    await run_workers(
        items=domains, workers=WORKERS, work=lambda remaining: _work_through(job_id=job_id, remaining=remaining)
    )
    await finish_job(job_id=job_id)
    logger.info("sitemap job %s: done in %.2f s", job_id, time.perf_counter() - started)


async def _work_through(*, job_id: uuid.UUID, remaining: Iterator[str]) -> None:
    for domain in remaining:
        await _scan_domain(job_id=job_id, domain=domain)


async def _scan_domain(*, job_id: uuid.UUID, domain: str) -> None:
    sitemaps, error = await crawl_or_error(job_id=job_id, domain=domain)
    # Then one short transaction stores the domain's documents and counts it, retried if the database is away.
    await run_in_transaction(
        lambda session: store_domain(session=session, job_id=job_id, domain=domain, sitemaps=sitemaps, error=error)
    )
    # Summarised from the crawl's plain data, not by loading relationships back (R3, F1).
    logger.info(
        "sitemap job %s: %s: %d sitemaps, %d URLs", job_id, domain, len(sitemaps), sum(len(s.urls) for s in sitemaps)
    )


async def crawl_or_error(*, job_id: uuid.UUID, domain: str) -> tuple[list[Sitemap], str | None]:
    """The domain's sitemaps, or none and the reason it failed; never raises for a domain that fails."""
    # Network I/O with no session open: a slow site holds no connection (R2).
    try:
        return await crawl_domain(domain), None
    except CrawlError as exc:
        logger.warning("sitemap job %s: domain %s failed: %s", job_id, domain, exc)
        return [], str(exc)


async def store_domain(
    *, session: AsyncSession, job_id: uuid.UUID, domain: str, sitemaps: list[Sitemap], error: str | None
) -> None:
    """Replace what the job stored for the domain and count it, in the caller's transaction."""
    # Two runs of one job storing the same domain take turns: the second replaces the first's
    # documents instead of colliding with them. The lock ends with the transaction.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{job_id} {domain}", 0))))
    # Whatever an earlier attempt stored for the domain goes first, so a re-run does not
    # add to it (R7); its URLs and nested documents follow by ON DELETE CASCADE.
    await session.execute(delete(SitemapFile).where(SitemapFile.job_id == job_id, SitemapFile.domain == domain))
    await _store_sitemaps(session=session, job_id=job_id, domain=domain, sitemaps=sitemaps)
    await record_item(session=session, job_id=job_id, item=domain, error=error)


async def _store_sitemaps(*, session: AsyncSession, job_id: uuid.UUID, domain: str, sitemaps: list[Sitemap]) -> None:
    file_ids: dict[str | None, int | None] = {None: None}  # a document listed in robots.txt has no parent
    for sitemap in sitemaps:
        # RETURNING hands back the new id, which the documents nested below need as parent_id.
        file_ids[sitemap.url] = await session.scalar(
            insert(SitemapFile)
            .values(
                job_id=job_id,
                domain=domain,
                url=sitemap.url,
                kind=sitemap.kind,
                parent_id=file_ids[sitemap.parent_url],
                url_count=len(sitemap.urls),
            )
            .returning(SitemapFile.id)
        )
        # An executemany per slice of the document's URLs, no ORM objects to track: each slice's
        # parameters are prepared while the event loop waits, so slices keep those waits short.
        for start in range(0, len(sitemap.urls), INSERT_SLICE):
            await session.execute(
                insert(SitemapUrl),
                [
                    {"sitemap_file_id": file_ids[sitemap.url], "loc": url.loc, "lastmod": url.lastmod}
                    for url in sitemap.urls[start : start + INSERT_SLICE]
                ],
            )
