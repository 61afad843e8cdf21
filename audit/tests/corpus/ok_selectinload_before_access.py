# expect: none
# The relationship is loaded eagerly before it is read.
from _support import Job, get_background_session
from sqlalchemy import select
from sqlalchemy.orm import selectinload


async def count_items(job_id: int) -> None:
    async with get_background_session() as session:
        job = (await session.execute(select(Job).options(selectinload(Job.items)).where(Job.id == job_id))).scalar_one()
        print(len(job.items))


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(count_items, job_id)
