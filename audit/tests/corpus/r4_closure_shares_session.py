# expect: R4
# A nested coroutine closes over the session, and gather runs many of them.
import asyncio

from _support import Item, get_background_session
from sqlalchemy import select


async def count_urls(job_ids: list[int]) -> None:
    async with get_background_session() as session:

        async def one(job_id: int) -> int:
            return len((await session.scalars(select(Item).where(Item.job_id == job_id))).all())

        print(await asyncio.gather(*[one(job_id) for job_id in job_ids]))


async def start(job_ids: list[int], background_tasks) -> None:
    background_tasks.add_task(count_urls, job_ids)
