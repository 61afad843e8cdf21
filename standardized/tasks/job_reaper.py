"""Finding jobs that stopped making progress and ending them, the standard way.

Shows: one short session per sweep, one atomic UPDATE ... RETURNING, and only plain ids
used after the session closed (R1, R7). A failing sweep is logged and retried; the loop
never dies quietly (R6). Only jobs that no process claims are reaped, such as those that
code naming no process left behind (the legacy services on the same database, while they
are migrated): a job whose process is known is resumed by the recovery sweep when that
process dies (`standardized.recovery`), and left alone while it lives; a queued job is the
task engine's.
Does not guarantee: that a job reaped here is not still running somewhere; it relies on
running jobs touching `updated_at` more often than `stale_after`.
"""

import asyncio
import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, update

from playbook.app.models import UNFINISHED_STATUSES, Job, JobStatus
from standardized.db import get_background_session

logger = logging.getLogger(__name__)


async def reap_stuck_jobs(*, stale_after: float) -> list[uuid.UUID]:
    """Mark failed every unclaimed unfinished job untouched for `stale_after` seconds; return their ids."""
    async with get_background_session() as session:
        reaped = await session.scalars(
            update(Job)
            .where(
                Job.executor == "background",
                Job.instance_id.is_(None),
                Job.status.in_(UNFINISHED_STATUSES),
                Job.updated_at < func.now() - timedelta(seconds=stale_after),
            )
            .values(
                status=JobStatus.failed,
                error=f"no progress for {stale_after:g} s: marked failed by the job reaper",
                end_time=func.now(),
            )
            .returning(Job.id)
        )
        reaped_ids = list(reaped)
    for job_id in reaped_ids:
        logger.warning("job %s: no progress for %g s, marked failed", job_id, stale_after)
    return reaped_ids


async def run_job_reaper(*, interval: float, stale_after: float) -> None:
    """Sweep every `interval` seconds until cancelled."""
    while True:
        try:
            await reap_stuck_jobs(stale_after=stale_after)
        except Exception:
            logger.exception("job reaper: sweep failed, next one in %g s", interval)
        await asyncio.sleep(interval)
