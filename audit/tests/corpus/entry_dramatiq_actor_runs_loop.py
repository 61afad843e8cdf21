# expect: R8
# A dramatiq actor (sync by default) drives async code with asyncio.run on a module-level engine:
# each message runs a new event loop, and the pooled connections belong to the first one (F5).
import asyncio

import dramatiq
from _support import Job
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://localhost/app")
Session = async_sessionmaker(engine, expire_on_commit=False)


async def _expire(job_id: int) -> None:
    async with Session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="expired"))
        await session.commit()


@dramatiq.actor
def expire(job_id: int) -> None:
    asyncio.run(_expire(job_id))
