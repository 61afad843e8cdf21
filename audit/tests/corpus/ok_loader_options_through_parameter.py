# expect: none
# Loader options handed in by the caller, or defaulted: the audit cannot see which, so it
# does not call the relationship lazy.
from typing import Any

from _support import Job, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload


async def load_job(session: AsyncSession, job_id: int, options: list[Any] | None = None) -> Job:
    options = options or [selectinload(Job.items)]
    return (await session.scalars(select(Job).where(Job.id == job_id).options(*options))).one()


async def summarise(job_id: int) -> None:
    async with get_background_session() as session:
        job = await load_job(session, job_id)
        print(len(job.items))


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(summarise, job_id)
