# expect: R5
# The except block records the failure with the session whose flush just failed: without a
# rollback, that commit fails too (PendingRollbackError), and the job stays `processing`.
from _support import Item, Job, get_background_session


async def store(job_id: int, urls: list[str]) -> None:
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        try:
            session.add_all([Item(job_id=job_id, url=url) for url in urls])
            await session.flush()
            job.status = "completed"
        except Exception as exc:
            job.status = "failed"
            job.error = str(exc)
            await session.commit()


async def start(job_id: int, urls: list[str], background_tasks) -> None:
    background_tasks.add_task(store, job_id, urls)
