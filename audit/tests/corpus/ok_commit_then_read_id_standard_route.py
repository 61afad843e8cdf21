# expect: none
# The route commits on a non-expiring request session and passes the id, not the row.
from typing import Annotated

from _support import Job, get_engine
from fastapi import BackgroundTasks, Depends
from sqlalchemy.ext.asyncio import AsyncSession


async def get_request_session():
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session


RequestSession = Annotated[AsyncSession, Depends(get_request_session, scope="function")]


async def work(job_id: int) -> None:
    print(job_id)


async def create(background_tasks: BackgroundTasks, session: RequestSession) -> Job:
    job = Job()
    session.add(job)
    await session.commit()
    background_tasks.add_task(work, job.id)
    return job
