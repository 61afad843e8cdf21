# expect: R1
# One session for the life of the process, shared by every run of the task.
from _support import Job, get_engine
from fastapi import BackgroundTasks
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

session = AsyncSession(get_engine())


async def close_job(job_id: int) -> None:
    await session.execute(update(Job).where(Job.id == job_id).values(status="completed"))
    await session.commit()


async def close(job_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(close_job, job_id)
