# expect: R10
# A sync task (run in a worker thread) that starts its own event loop for async code.
import asyncio

from _support import Job, get_background_session
from sqlalchemy import update


async def _finish(job_id: int) -> None:
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="completed"))


def finish(job_id: int) -> None:
    asyncio.run(_finish(job_id))


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(finish, job_id)
