# expect: R4
# TaskGroup children all handed the parent's session.
import asyncio

from _support import Item, get_background_session
from sqlalchemy.ext.asyncio import AsyncSession


async def store(session: AsyncSession, job_id: int, url: str) -> None:
    session.add(Item(job_id=job_id, url=url))
    await session.flush()


async def store_all(job_id: int, urls: list[str]) -> None:
    async with get_background_session() as session:
        async with asyncio.TaskGroup() as group:
            for url in urls:
                group.create_task(store(session, job_id, url))


async def start(job_id: int, urls: list[str], background_tasks) -> None:
    background_tasks.add_task(store_all, job_id, urls)
