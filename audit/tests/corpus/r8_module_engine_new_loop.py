# expect: R8
# A module-level engine, then asyncio.run() per call: each run is a new loop (F5, F6).
import asyncio

from _support import Item
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://localhost/app")
SessionLocal = async_sessionmaker(engine)


async def _cleanup(job_id: int) -> None:
    async with SessionLocal() as session:
        await session.execute(delete(Item).where(Item.job_id == job_id))
        await session.commit()


def cleanup(job_id: int) -> None:
    asyncio.run(_cleanup(job_id))
