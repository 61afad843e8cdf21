# expect: none
# The failed transaction is rolled back before the failure is recorded.
from _support import Item, Job, get_background_session
from sqlalchemy import update


async def store(job_id: int, urls: list[str]) -> None:
    async with get_background_session() as session:
        try:
            session.add_all([Item(job_id=job_id, url=url) for url in urls])
            await session.flush()
            await session.execute(update(Job).where(Job.id == job_id).values(status="completed"))
        except Exception as exc:
            await session.rollback()
            await session.execute(update(Job).where(Job.id == job_id).values(status="failed", error=str(exc)))
            await session.commit()


async def start(job_id: int, urls: list[str], background_tasks) -> None:
    background_tasks.add_task(store, job_id, urls)
