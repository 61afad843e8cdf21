# expect: R10
# A sync task that opens an AsyncSession in its worker thread and calls it without await.
from _support import Job, get_engine
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


def mark_done(job_id: int) -> None:
    session = AsyncSession(get_engine())
    session.execute(update(Job).where(Job.id == job_id).values(status="completed"))
    session.commit()


async def finish(job_id: int, background_tasks) -> None:
    background_tasks.add_task(mark_done, job_id)
