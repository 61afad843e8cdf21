# expect: none
# The rollback path re-raises, so the read after the try only follows a successful commit.
import logging

from _support import Job, get_engine
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)


async def clear_error(job_id: int) -> None:
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        job = await session.get(Job, job_id)
        job.error = None
        try:
            await session.commit()
        except Exception:
            await session.rollback()
            raise
        logger.info("job %s cleared: %s", job_id, job.error)


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(clear_error, job_id)
