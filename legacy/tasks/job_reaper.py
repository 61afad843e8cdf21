"""Finding jobs stuck in `processing` and failing them, as the service had it.

Shows: a sweep that loads ORM objects, commits and closes its session, then logs from
the objects. Commit expired them and close detached them, so the first log line raises
DetachedInstanceError (F7) after the jobs were already marked failed; the loop that
called it dies with it, and no later sweep ever runs (F11).
Does not guarantee: anything. This is the code being migrated away from.
"""

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import get_engine
from playbook.app.models import Job, JobStatus, utcnow

logger = logging.getLogger(__name__)


async def reap_stuck_jobs(*, stale_after: float) -> list[Job]:
    """Mark failed every job processing for longer than `stale_after` seconds; return them."""
    async with AsyncSession(get_engine()) as session:
        cutoff = utcnow() - timedelta(seconds=stale_after)
        stuck = (
            await session.scalars(select(Job).where(Job.status == JobStatus.processing, Job.updated_at < cutoff))
        ).all()
        for job in stuck:
            job.status = JobStatus.failed
            job.error = "stuck in processing"
            job.end_time = utcnow()
        await session.commit()
    for job in stuck:
        logger.warning("reaped stuck job %s", job.id)
    return list(stuck)


async def run_job_reaper(*, interval: float, stale_after: float) -> None:
    while True:
        await reap_stuck_jobs(stale_after=stale_after)
        await asyncio.sleep(interval)
