# expect: R9
# `.append` on a plain JSON column: the change is not tracked and never written.
from _support import Job, get_background_session


async def tag(job_id: int, label: str) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        job.tags.append(label)


async def start(job_id: int, label: str, background_tasks) -> None:
    background_tasks.add_task(tag, job_id, label)
