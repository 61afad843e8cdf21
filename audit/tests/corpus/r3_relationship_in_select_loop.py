# expect: R3
# Rows from select() without loader options, then each row's relationship.
from _support import Job, get_background_session
from sqlalchemy import select


async def summarize() -> None:
    async with get_background_session() as session:
        jobs = (await session.scalars(select(Job).where(Job.status == "completed"))).all()
        for job in jobs:
            print(job.id, [item.url for item in job.items])


async def start(background_tasks) -> None:
    background_tasks.add_task(summarize)
