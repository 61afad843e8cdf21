"""E-mail scraping, the standard way: the work order's `scrape_emails_task`.

Shows: an `async def` task on the app's loop (R10) that receives the job id and the
domain (R1), crawls with no session open (R2), stores each page's addresses and counts
the page in one short transaction (R1, R9), retried if the database is away, upserts so
that a re-run or an address on several pages is stored once (R7), and always ends the job
in a terminal status (R5, R6). A resumed scan crawls the site again: recording a page
again counts it once.
Does not guarantee: fresh sources. An address keeps the page it was first found on, by
whichever scan of the domain by the same owner found it first; the job's items are the
pages it crawled. Another owner's scans store addresses of their own.
"""

import logging
import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import Contact, Job
from playbook.upstream.emails import PageScan, crawl_site
from standardized.db import run_in_transaction
from standardized.jobs import finish_job, record_item, run_job, start_job

logger = logging.getLogger(__name__)


async def scrape_emails_task(job_id: uuid.UUID, domain: str) -> None:
    """Background entry point: crawl `domain` and store the addresses found, as job `job_id`."""
    await run_job(job_id=job_id, work=_scan_site(job_id=job_id, domain=domain))


async def _scan_site(*, job_id: uuid.UUID, domain: str) -> None:
    logger.info("email scan %s: crawling %s", job_id, domain)
    await start_job(job_id=job_id)
    # Each page is fetched inside the crawl, with no session open (R2); the session opens after.
    async for page in crawl_site(domain):
        if page.error is not None:
            logger.warning("email scan %s: page %s failed: %s", job_id, page.url, page.error)
        await _record_page(job_id=job_id, domain=domain, page=page)
    await finish_job(job_id=job_id)
    logger.info("email scan %s: done", job_id)


async def _record_page(*, job_id: uuid.UUID, domain: str, page: PageScan) -> None:
    # One short transaction stores the page's addresses and counts the page, retried if the database is away.
    await run_in_transaction(lambda session: _store_page(session=session, job_id=job_id, domain=domain, page=page))


async def _store_page(*, session: AsyncSession, job_id: uuid.UUID, domain: str, page: PageScan) -> None:
    if page.emails:
        await _store_contacts(session=session, job_id=job_id, domain=domain, page=page)
    await record_item(session=session, job_id=job_id, item=page.url, error=page.error)
    await _count_crawled_page(session=session, job_id=job_id)


async def _store_contacts(*, session: AsyncSession, job_id: uuid.UUID, domain: str, page: PageScan) -> None:
    # The job's owner, read in the same statement: contacts are shared by one owner's scans only.
    owner = select(Job.owner).where(Job.id == job_id).scalar_subquery()
    rows = [
        {"job_id": job_id, "owner": owner, "domain": domain, "email": email, "source_url": page.url}
        for email in sorted(page.emails)
    ]
    # Upsert on (owner, domain, email): an address already stored keeps its first source, nothing is stored twice (R7).
    await session.execute(
        insert(Contact).values(rows).on_conflict_do_nothing(index_elements=["owner", "domain", "email"])
    )


async def _count_crawled_page(*, session: AsyncSession, job_id: uuid.UUID) -> None:
    # The pages are discovered while crawling: the total is the pages counted so far,
    # derived in SQL from the counts `record_item` just wrote, so a re-run recounts from zero (R7, R9).
    await session.execute(
        update(Job).where(Job.id == job_id).values(total_items=Job.completed_count + Job.failed_count)
    )
