# expect: R10
# A dramatiq actor (sync by default) that drives async code with asyncio.run.
import asyncio

import dramatiq
from _support import get_background_session


async def _expire(job_id: int) -> None:
    async with get_background_session() as session:
        await session.get_bind()


@dramatiq.actor
def expire(job_id: int) -> None:
    asyncio.run(_expire(job_id))
