# expect: none
# The caller turns the relationship off with a constant flag: the lazy branch never runs.
from _support import Job, get_background_session
from sqlalchemy import select


def describe(job: Job, include_items: bool = True) -> str:
    if include_items:
        return f"{job.id}: {len(job.items)} items"
    return f"{job.id}"


async def list_jobs() -> None:
    async with get_background_session() as session:
        for job in (await session.scalars(select(Job))).all():
            print(describe(job, include_items=False))


async def start(background_tasks) -> None:
    background_tasks.add_task(list_jobs)
