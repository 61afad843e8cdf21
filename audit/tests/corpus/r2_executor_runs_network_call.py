# expect: R2
# The network call runs in a thread, but the session waits for it all the same.
import asyncio
import urllib.request

from _support import Job, get_background_session


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read()


async def fetch_report(job_id: int) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        body = await asyncio.to_thread(download, f"https://reports.test/{job.id}")
        job.status = "fetched" if body else "empty"


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(fetch_report, job_id)
