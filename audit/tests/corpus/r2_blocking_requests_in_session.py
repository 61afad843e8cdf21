# expect: R2
# A blocking HTTP client (requests) called while the session is in a transaction: the event
# loop and the connection both wait.
import requests
from _support import Job, get_background_session


async def check(job_id: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        reply = requests.get("https://status.test/", params={"job": job.id}, timeout=10)
        job.status = reply.text


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(check, job_id)
