# expect: R2
# A retry delay while the session holds a transaction: the connection stays checked out.
import asyncio

from _support import Job, get_engine
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession


async def wait_for_upstream(job_id: int) -> None:
    session = AsyncSession(get_engine(), expire_on_commit=False)
    try:
        status = await session.scalar(select(Job.status).where(Job.id == job_id))
        if status == "pending":
            await asyncio.sleep(5)
        await session.execute(update(Job).where(Job.id == job_id).values(status="queued"))
        await session.commit()
    finally:
        await session.close()


async def start(job_id: int) -> None:
    task = asyncio.create_task(wait_for_upstream(job_id))
    await task
