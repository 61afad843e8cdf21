# expect: R2
# commit() ends the transaction, but refresh() starts another: it is held across the API call.
import httpx
from _support import Job, get_engine
from sqlalchemy.ext.asyncio import AsyncSession


async def publish(job_id: int, client: httpx.AsyncClient) -> None:
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        job = await session.get(Job, job_id)
        job.status = "publishing"
        await session.commit()
        await session.refresh(job)
        await client.post("https://hooks.test/published", json={"job": job.id})
        job.status = "published"
        await session.commit()


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(publish, job_id, httpx.AsyncClient())
