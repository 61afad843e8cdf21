# expect: R9
# A helper writes into the JSONB dict in place; the task calls it with the loaded job.
from _support import Job, get_background_session


def record(job: Job, item: str, outcome: str) -> None:
    job.item_results[item] = outcome


async def process(job_id: int, items: list[str]) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        for item in items:
            record(job, item, "completed")


async def start(job_id: int, items: list[str], background_tasks) -> None:
    background_tasks.add_task(process, job_id, items)
