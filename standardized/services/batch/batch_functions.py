"""Batch processing, the standard way: the work order's `process_batch_with_own_session`.

Shows: a task that receives IDs and plain data (R1), fetches each site with no session
open (R2), records each item in its own short session (R1, R9), and always ends the job
in a terminal status (R5, R6).
Does not guarantee: speed. Items are processed one after another, as the work order asks;
bounded concurrency is measured in the benchmarks.
"""

import logging
import uuid

from sqlalchemy.dialects.postgresql import insert

from playbook.models import BatchItem
from playbook.sites import SiteError, fetch_site
from standardized.db import get_background_session
from standardized.jobs import finish_job, record_item, run_job, start_job

logger = logging.getLogger(__name__)


async def process_batch_with_own_session(batch_id: uuid.UUID, items: list[str]) -> None:
    """Background entry point: process every item of batch `batch_id`."""
    await run_job(job_id=batch_id, work=_process_items(batch_id=batch_id, items=items))


async def _process_items(*, batch_id: uuid.UUID, items: list[str]) -> None:
    logger.info("batch %s: processing %d items", batch_id, len(items))
    await start_job(job_id=batch_id)
    for item in items:
        await _process_item(batch_id=batch_id, item=item)
    await finish_job(job_id=batch_id)
    logger.info("batch %s: done", batch_id)


async def _process_item(*, batch_id: uuid.UUID, item: str) -> None:
    # Network I/O first, with no session open: a slow site holds no connection (R2).
    try:
        site = await fetch_site(item)
        row = {"status": "completed", "http_status": site.http_status, "title": site.title, "error": None}
    except SiteError as exc:
        logger.warning("batch %s: item %s failed: %s", batch_id, item, exc)
        row = {"status": "failed", "http_status": None, "title": None, "error": str(exc)}
    # Then one short session writes the item and counts it in one transaction.
    async with get_background_session() as session:
        # Upsert, so a re-run overwrites what an earlier attempt wrote (R7).
        statement = insert(BatchItem).values(job_id=batch_id, domain=item, **row)
        await session.execute(statement.on_conflict_do_update(index_elements=["job_id", "domain"], set_=row))
        await record_item(session=session, job_id=batch_id, item=item, error=row["error"])
