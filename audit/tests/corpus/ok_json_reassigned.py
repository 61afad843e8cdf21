# expect: none
# A new dict is assigned to the JSON column, so the change is tracked.
from _support import Job, get_background_session


async def record(job_id: int, item: str) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        job.item_results = {**job.item_results, item: "completed"}
        job.tags = [*job.tags, "seen"]


async def start(job_id: int, item: str, background_tasks) -> None:
    background_tasks.add_task(record, job_id, item)
