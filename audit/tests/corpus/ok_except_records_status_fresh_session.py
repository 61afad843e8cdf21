# expect: none
# The except block logs and records the failure in a fresh session: nothing is swallowed.
import logging

import httpx
from _support import Job, get_background_session
from sqlalchemy import update

logger = logging.getLogger(__name__)


async def fail_job(job_id: int, error: str) -> None:
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="failed", error=error))


async def fetch(job_id: int, url: str) -> None:
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
        async with get_background_session() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(status=str(response.status_code)))
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        await fail_job(job_id, str(exc))


async def start(job_id: int, url: str, background_tasks) -> None:
    background_tasks.add_task(fetch, job_id, url)
