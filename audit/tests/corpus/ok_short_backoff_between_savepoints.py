# expect: none
# A 200 ms pause between two savepoint attempts: a deliberate, bounded backoff, not a slow wait.
import asyncio

from _support import Item, get_background_session
from sqlalchemy.exc import IntegrityError

RETRY_PAUSE = 0.2


async def insert_unique(job_id: int, url: str) -> None:
    async with get_background_session() as session:
        for _ in range(2):
            try:
                async with session.begin_nested():
                    session.add(Item(job_id=job_id, url=url))
                return
            except IntegrityError:
                await asyncio.sleep(RETRY_PAUSE)


async def start(job_id: int, url: str, background_tasks) -> None:
    background_tasks.add_task(insert_unique, job_id, url)
