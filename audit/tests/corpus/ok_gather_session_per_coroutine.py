# expect: none
# Concurrency done right: each coroutine opens its own session, bounded by a semaphore.
import asyncio

from _support import Item, get_background_session
from sqlalchemy import select


async def count_for(domain: str, limit: asyncio.Semaphore) -> int:
    async with limit, get_background_session() as session:
        return len((await session.scalars(select(Item).where(Item.url.contains(domain)))).all())


async def count_all(domains: list[str]) -> None:
    limit = asyncio.Semaphore(4)
    print(await asyncio.gather(*(count_for(domain, limit) for domain in domains)))


async def start(domains: list[str], background_tasks) -> None:
    background_tasks.add_task(count_all, domains)
