"""E-mail scraping as it was before the work order. Not to be copied.

Shows: a sync `def` task, which Starlette runs in a worker thread. It marks the job
processing through the request's AsyncSession without `await`: each call only creates a
coroutine that never runs, a silent no-op apart from a RuntimeWarning (F4). It then runs
each async step with its own `asyncio.run`, on an engine made for the thread: the step
that reads the stored addresses pools a connection of its event loop, and the next step,
on a new loop, gets that connection and raises "attached to a different loop" (F5).
Disposing of the engine afterwards cannot close that connection either: the pool logs
"Event loop is closed" and carries on (F6). The `except` logs the error and moves on:
the client had its 202, the job stays `pending` with nothing stored (F11).
Does not guarantee: anything. This is the code being migrated away from.
"""

import asyncio
import logging
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from legacy.jobs import finish_job, record_item
from playbook.app.database import get_engine
from playbook.app.models import Contact, Job, JobStatus, utcnow
from playbook.upstream.emails import PageScan, crawl_site

logger = logging.getLogger(__name__)


def scrape_emails_task(job_id: uuid.UUID, domain: str, session: AsyncSession) -> None:
    """Background entry point: find the e-mail addresses on `domain`'s pages."""
    try:
        # Let the client see that the scan has started.
        session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.processing, start_time=utcnow()))
        session.commit()
        # This runs in a worker thread, away from the app's event loop, so it gets an
        # engine of its own, and each async step runs to completion with asyncio.run.
        engine = create_async_engine(get_engine().url)
        try:
            pages = asyncio.run(_crawl(domain))
            known = asyncio.run(_stored_emails(engine, job_id, domain))
            stored = asyncio.run(_store_results(engine, job_id, domain, pages, known))
            logger.info("email scan %s: %d new contacts on %s", job_id, stored, domain)
        finally:
            asyncio.run(engine.dispose())
    except Exception:
        logger.exception("email scan %s failed", job_id)


async def _crawl(domain: str) -> list[PageScan]:
    return [page async for page in crawl_site(domain)]


async def _stored_emails(engine: AsyncEngine, job_id: uuid.UUID, domain: str) -> set[str]:
    owner = select(Job.owner).where(Job.id == job_id).scalar_subquery()
    async with AsyncSession(engine) as db:
        return set(await db.scalars(select(Contact.email).where(Contact.owner == owner, Contact.domain == domain)))


async def _store_results(
    engine: AsyncEngine, job_id: uuid.UUID, domain: str, pages: list[PageScan], known: set[str]
) -> int:
    stored = 0
    async with AsyncSession(engine) as db:
        job = await db.get(Job, job_id)
        job.total_items = len(pages)
        for page in pages:
            for email in sorted(page.emails - known):
                db.add(Contact(job_id=job_id, owner=job.owner, domain=domain, email=email, source_url=page.url))
                stored += 1
            known |= page.emails
            record_item(job, page.url, page.error)
        await finish_job(job, db)
    return stored
