# expect: R5
# Short sessions and plain ids, but if the work raises the job stays `processing` (F11).
from _support import Job, get_background_session
from sqlalchemy import update


async def do_the_work(job_id: int) -> None:
    raise NotImplementedError


async def run(job_id: int) -> None:
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="processing"))
    await do_the_work(job_id)
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="completed"))


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(run, job_id)
