# expect: R2
# The task opens its own session (good) but fetches the page while the session is open.
import httpx
from _support import Job, get_background_session
from sqlalchemy import update


async def check_site(job_id: int, url: str) -> None:
    async with httpx.AsyncClient() as client:
        async with get_background_session() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(error=None))
            response = await client.get(url)
            await session.execute(update(Job).where(Job.id == job_id).values(status=str(response.status_code)))


async def start(job_id: int, url: str, background_tasks) -> None:
    background_tasks.add_task(check_site, job_id, url)
