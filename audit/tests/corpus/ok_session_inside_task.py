# expect: none
# The standard pattern: the route hands over the id; the task opens its own short sessions.
import logging

from _support import Job, SessionDep, get_background_session
from fastapi import BackgroundTasks
from sqlalchemy import update

logger = logging.getLogger(__name__)


async def process(job_id: int) -> None:
    try:
        async with get_background_session() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(status="completed"))
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        async with get_background_session() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(status="failed", error=str(exc)))


async def create(background_tasks: BackgroundTasks, session: SessionDep) -> int:
    job = Job()
    session.add(job)
    await session.flush()
    job_id = job.id
    await session.commit()
    background_tasks.add_task(process, job_id)
    return job_id
