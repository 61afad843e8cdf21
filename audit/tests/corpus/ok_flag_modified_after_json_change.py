# expect: none
# The JSON dict is changed in place, then flag_modified() tells SQLAlchemy to write it.
from _support import Job, get_background_session
from sqlalchemy.orm.attributes import flag_modified


async def record(job_id: int, item: str) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        job.item_results[item] = "completed"
        flag_modified(job, "item_results")


async def start(job_id: int, item: str, background_tasks) -> None:
    background_tasks.add_task(record, job_id, item)
