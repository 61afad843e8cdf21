# expect: R4
# One session for every domain, checked concurrently (F9).
import asyncio

from _support import Item, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


async def check_domain(session: AsyncSession, domain: str) -> int:
    return len((await session.scalars(select(Item).where(Item.url.contains(domain)))).all())


async def check_all(domains: list[str]) -> None:
    async with get_background_session() as session:
        await asyncio.gather(*(check_domain(session, domain) for domain in domains))


async def start(domains: list[str], background_tasks) -> None:
    background_tasks.add_task(check_all, domains)
