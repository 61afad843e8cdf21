# expect: none
# `await job.awaitable_attrs.items` loads the relationship explicitly.
from _support import Job, get_background_session


async def count_items(job_id: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        await job.awaitable_attrs.items
        print(len(job.items))


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(count_items, job_id)
