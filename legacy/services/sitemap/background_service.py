"""Sitemap processing as it was before the work order.

Shows: a team that "fixed" MissingGreenlet with `expire_on_commit=False` and sessions of
its own, and still fails three ways, each after the client got its 202 and each leaving the
job `processing` (F11):
- `process_domain_background` summarises the scan through `job.sitemap_files`, a lazy
  relationship; loading it is IO outside SQLAlchemy's greenlet: MissingGreenlet (F1).
- `process_batch_background` scans all domains at once with `asyncio.gather` on one
  session. Each domain opens a savepoint, emitted with its first statement while the
  session sets up the connection for it; the second domain's savepoint arrives in that
  window: InvalidRequestError "This session is provisioning a new connection" (F9).
- With a single domain nothing overlaps, but the batch then times itself with
  `job.updated_at` after committing; the flush expired that `onupdate=func.now()`
  column, and loading it is the same MissingGreenlet (F3).
It also holds a connection while crawling (against R2), and its changes to `item_results`
are never written (R9).
Does not guarantee: anything. This is the code being migrated away from; do not copy it.
"""

import asyncio
import logging
import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from legacy.jobs import finish_job, record_item, start_job
from playbook.app.database import get_engine
from playbook.app.models import Job, SitemapFile, SitemapUrl
from playbook.upstream.sitemaps import CrawlError, Sitemap, crawl_domain

logger = logging.getLogger(__name__)


async def process_domain_background(job_id: uuid.UUID, domain: str) -> None:
    """Background entry point: scan the sitemaps of `domain` for job `job_id`."""
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        job = await session.get(Job, job_id)
        await start_job(job, session)
        await _scan_domain(session, job, domain)
        await session.commit()
        url_total = sum(len(sitemap_file.urls) for sitemap_file in job.sitemap_files)
        logger.info("sitemap scan %s: %s: %d sitemaps, %d URLs", job.id, domain, len(job.sitemap_files), url_total)
        await finish_job(job, session)


async def process_batch_background(job_id: uuid.UUID, domains: list[str]) -> None:
    """Background entry point: scan the sitemaps of every domain of job `job_id`, all at once."""
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        job = await session.get(Job, job_id)
        await start_job(job, session)
        # return_exceptions: every domain gets to finish before an error is reported.
        outcomes = await asyncio.gather(
            *(_scan_domain(session, job, domain) for domain in domains), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        await session.commit()
        logger.info("sitemap batch %s: %d domains in %s", job.id, len(domains), job.updated_at - job.start_time)
        await finish_job(job, session)


async def _scan_domain(session: AsyncSession, job: Job, domain: str) -> None:
    # A savepoint per domain, so a domain that fails rolls back its own rows only.
    async with session.begin_nested():
        # A retried job replaces what it stored for this domain before.
        await session.execute(delete(SitemapFile).where(SitemapFile.job_id == job.id, SitemapFile.domain == domain))
        try:
            sitemaps = await crawl_domain(domain)
        except CrawlError as exc:
            logger.warning("sitemap job %s: domain %s failed: %s", job.id, domain, exc)
            record_item(job, domain, str(exc))
            return
        await _store_sitemaps(session, job, domain, sitemaps)
    record_item(job, domain, None)


async def _store_sitemaps(session: AsyncSession, job: Job, domain: str, sitemaps: list[Sitemap]) -> None:
    stored: dict[str, SitemapFile] = {}
    for sitemap in sitemaps:
        parent = stored.get(sitemap.parent_url)
        sitemap_file = SitemapFile(
            job_id=job.id,
            domain=domain,
            url=sitemap.url,
            kind=sitemap.kind,
            parent_id=parent.id if parent else None,
            url_count=len(sitemap.urls),
        )
        session.add(sitemap_file)
        await session.flush()
        session.add_all(
            SitemapUrl(sitemap_file_id=sitemap_file.id, loc=url.loc, lastmod=url.lastmod) for url in sitemap.urls
        )
        stored[sitemap.url] = sitemap_file
