# expect: R1
# The task is chosen at run time between two functions; both are followed, and the session
# handed to either is reported once.
from _support import SessionDep
from fastapi import BackgroundTasks
from sqlalchemy.ext.asyncio import AsyncSession


async def fast_path(job_id: int, session: AsyncSession) -> None:
    await session.commit()


async def slow_path(job_id: int, session: AsyncSession) -> None:
    await session.commit()


async def start(job_id: int, urgent: bool, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    handler = fast_path if urgent else slow_path
    background_tasks.add_task(handler, job_id, session)
