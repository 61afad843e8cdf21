# expect: R3
# rollback() expires every object of the session, whatever expire_on_commit says; the error
# message reads the row again, without a greenlet.
from _support import Job
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


class JobService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rename(self, job_id: int, status: str) -> None:
        job = await self.session.get(Job, job_id)
        job.status = status
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise ValueError(f"status {job.status} is taken") from exc
