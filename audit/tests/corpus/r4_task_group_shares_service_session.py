# expect: R4
# A service object carries the session; every child of the task group queries through it.
import asyncio

from _support import Item, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


class Lookup:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exists(self, url: str) -> bool:
        return (await self.session.scalar(select(Item.id).where(Item.url == url))) is not None


async def check(lookup: Lookup, url: str) -> None:
    print(url, await lookup.exists(url))


async def check_all(urls: list[str]) -> None:
    async with get_background_session() as session:
        lookup = Lookup(session)
        async with asyncio.TaskGroup() as group:
            for url in urls:
                group.create_task(check(lookup, url))


async def start(urls: list[str], background_tasks) -> None:
    background_tasks.add_task(check_all, urls)
