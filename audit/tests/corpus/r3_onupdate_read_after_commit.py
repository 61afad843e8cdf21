# expect: R3
# expire_on_commit=False does not cover `onupdate=func.now()`: flush expired it (F3).
from datetime import datetime

from _support import Job, get_background_session


async def touch(job_id: int) -> datetime:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        job.status = "completed"
        await session.commit()
        return job.updated_at


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(touch, job_id)
