# expect: R1, R10
# A sync task handed the request's AsyncSession: its calls only create coroutines (F4).
from _support import Job, SessionDep
from fastapi import BackgroundTasks
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


def mark(job_id: int, session: AsyncSession) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(error=None))


async def begin(job_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    background_tasks.add_task(mark, job_id, session)
