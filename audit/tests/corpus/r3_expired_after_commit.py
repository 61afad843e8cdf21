# expect: R3
# A plain AsyncSession expires everything on commit; the log line reloads the job (F2).
import logging

from _support import Job, get_engine
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)


async def complete(job_id: int) -> None:
    async with AsyncSession(get_engine()) as session:
        job = await session.get(Job, job_id)
        job.status = "completed"
        await session.commit()
        logger.info("job %s is %s", job_id, job.status)


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(complete, job_id)
