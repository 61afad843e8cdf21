# expect: none
# refresh(obj, ["items"]) loads the relationship before it is read.
from _support import Job, get_background_session


async def count_items(job_id: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        await session.refresh(job, ["items"])
        print(len(job.items))


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(count_items, job_id)
