# expect: R1
# `session: AsyncSession = Depends(get_session)`, the older spelling, handed to a task by keyword.
from _support import Item, get_session
from fastapi import BackgroundTasks, Depends
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession


async def purge(job_id: int, db: AsyncSession) -> None:
    await db.execute(delete(Item).where(Item.job_id == job_id))
    await db.commit()


async def purge_items(job_id: int, tasks: BackgroundTasks, session: AsyncSession = Depends(get_session)) -> None:
    tasks.add_task(purge, job_id=job_id, db=session)
