# expect: R1
# The request's session (from a Depends alias) reaches the task.
from _support import Job, SessionDep
from fastapi import BackgroundTasks
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


async def mark_seen(job_id: int, session: AsyncSession) -> None:
    await session.execute(update(Job).where(Job.id == job_id).values(error=None))
    await session.commit()


async def seen(job_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    background_tasks.add_task(mark_seen, job_id, session)
