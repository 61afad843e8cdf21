"""Batch processing as it was before the work order.

Shows: the request's session and the ORM object handed to a background task. The route
committed before scheduling, which expired every attribute of `batch`; the first read
needs IO outside SQLAlchemy's greenlet and raises MissingGreenlet (F2). The client
already has its 202, and the batch stays `pending` with nothing recorded (F11).
Does not guarantee: anything. This is the code being migrated away from.
"""

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from legacy.jobs import finish_job, record_item, start_job
from playbook.app.models import BatchItem, Job
from playbook.upstream.sites import SiteError, fetch_site

logger = logging.getLogger(__name__)


async def process_batch_with_own_session(batch: Job, items: list[str], session: AsyncSession) -> None:
    """Background entry point: process every item of `batch` on the request's session."""
    logger.info("batch %s: processing %d items", batch.id, len(items))
    await start_job(batch, session)
    for item in items:
        try:
            site = await fetch_site(item)
            session.add(
                BatchItem(
                    job_id=batch.id, domain=item, status="completed", http_status=site.http_status, title=site.title
                )
            )
            record_item(batch, item, None)
        except SiteError as exc:
            session.add(BatchItem(job_id=batch.id, domain=item, status="failed", error=str(exc)))
            record_item(batch, item, str(exc))
    await finish_job(batch, session)
    logger.info("batch %s: done", batch.id)
