# expect: none
# A sync entry point runs a coroutine that creates its engine on the new loop and disposes of
# it there: the prescribed fix, even beside a module-level engine used elsewhere.
import asyncio

from _support import Item
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

shared_engine = create_async_engine("postgresql+asyncpg://localhost/app")


async def _cleanup(job_id: int) -> None:
    engine = create_async_engine("postgresql+asyncpg://localhost/app")
    try:
        async with AsyncSession(engine) as session:
            await session.execute(delete(Item).where(Item.job_id == job_id))
            await session.commit()
    finally:
        await engine.dispose()


def cleanup(job_id: int) -> None:
    asyncio.run(_cleanup(job_id))


async def close() -> None:
    await shared_engine.dispose()
