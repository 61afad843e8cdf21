# expect: none
# MutableDict.as_mutable(JSONB) tracks in-place changes.
from _support import Job, get_background_session


async def configure(job_id: int, key: str, value: str) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        job.settings[key] = value


async def start(job_id: int, key: str, value: str, background_tasks) -> None:
    background_tasks.add_task(configure, job_id, key, value)
