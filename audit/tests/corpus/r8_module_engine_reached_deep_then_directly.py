# expect: R8
# One module-level sessionmaker, reached from two new loops: through a long chain of calls
# (past how deep the audit follows them), then directly. The direct one is still found.
import asyncio

from _support import Item
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://localhost/app")
SessionLocal = async_sessionmaker(engine)


async def _write(job_id: int) -> None:
    async with SessionLocal() as session:
        await session.execute(delete(Item).where(Item.job_id == job_id))
        await session.commit()


async def step5(job_id: int) -> None:
    await _write(job_id)


async def step4(job_id: int) -> None:
    await step5(job_id)


async def step3(job_id: int) -> None:
    await step4(job_id)


async def step2(job_id: int) -> None:
    await step3(job_id)


async def step1(job_id: int) -> None:
    await step2(job_id)


def through_the_chain(job_id: int) -> None:
    asyncio.run(step1(job_id))


def directly(job_id: int) -> None:
    asyncio.run(step5(job_id))
