# expect: R4
# The coroutines are built first, in a list, then gathered: they still share one session.
import asyncio

from _support import Item, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


async def count(session: AsyncSession, url: str) -> int:
    return len((await session.scalars(select(Item).where(Item.url == url))).all())


async def count_all(urls: list[str]) -> None:
    async with get_background_session() as session:
        tasks = [count(session, url) for url in urls]
        print(await asyncio.gather(*tasks))


async def start(urls: list[str], background_tasks) -> None:
    background_tasks.add_task(count_all, urls)
