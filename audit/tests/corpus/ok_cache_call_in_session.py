# expect: none
# A Redis call inside the session is not network I/O to a slow service; an object named
# `client` is not an HTTP client because of its name.
import redis.asyncio as redis
from _support import Job, get_background_session

client = redis.Redis()


async def mark_seen(job_id: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        await client.get(f"seen:{job.id}")
        job.status = "seen"


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(mark_seen, job_id)
