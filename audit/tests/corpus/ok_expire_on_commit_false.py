# expect: none
# expire_on_commit=False: attributes stay readable after the commit.
import logging

from _support import Job, get_engine
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)


async def complete(job_id: int) -> None:
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        job = await session.get(Job, job_id)
        job.error = None
        await session.commit()
        logger.info("job %s has error %s", job_id, job.error)


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(complete, job_id)
