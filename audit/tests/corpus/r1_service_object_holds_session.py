# expect: R1
# The request session travels inside a service object whose method is the task.
from _support import Job, SessionDep
from fastapi import BackgroundTasks
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


class ReportService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def build(self, job_id: int) -> None:
        await self.session.execute(update(Job).where(Job.id == job_id).values(status="completed"))
        await self.session.commit()


async def build_report(job_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    service = ReportService(session)
    background_tasks.add_task(service.build, job_id)
