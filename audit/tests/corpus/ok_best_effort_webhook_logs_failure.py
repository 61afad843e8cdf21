# expect: none
# A best-effort notification: its failure is logged, and there is no job for it to leave unfinished.
import logging

import httpx

logger = logging.getLogger(__name__)


async def ping_webhook(job_id: int, url: str) -> None:
    try:
        async with httpx.AsyncClient() as client:
            await client.post(url, json={"job": job_id})
    except Exception as exc:
        logger.error("webhook for job %s failed: %s", job_id, exc)


async def start(job_id: int, url: str, background_tasks) -> None:
    background_tasks.add_task(ping_webhook, job_id, url)
