# expect: R4
# The session travels in a ContextVar; every task created afterwards inherits it and uses it
# at the same time as its siblings.
import asyncio
from contextvars import ContextVar

from _support import Item, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

current_session: ContextVar[AsyncSession] = ContextVar("current_session")


async def count(url: str) -> int:
    session = current_session.get()
    return len((await session.scalars(select(Item).where(Item.url == url))).all())


async def count_all(urls: list[str]) -> None:
    async with get_background_session() as session:
        current_session.set(session)
        tasks = {asyncio.create_task(count(url)) for url in urls}
        await asyncio.wait(tasks)


async def start(urls: list[str], background_tasks) -> None:
    background_tasks.add_task(count_all, urls)
