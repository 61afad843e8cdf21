# expect: R2
# A connector keeps the session it was given; reading its row in a helper method leaves the
# transaction open, and every API call after it holds the connection.
import httpx
from _support import Job, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


class Connector:
    def __init__(self, session: AsyncSession, job_id: int) -> None:
        self.session = session
        self.job_id = job_id

    async def _token(self) -> str:
        job = (await self.session.scalars(select(Job).where(Job.id == self.job_id))).one()
        return job.status

    async def pages(self) -> list[str]:
        token = await self._token()
        async with httpx.AsyncClient() as client:
            response = await client.get("https://api.test/pages", headers={"token": token})
        return response.json()


async def index(job_id: int) -> None:
    async with get_background_session() as session:
        print(await Connector(session, job_id).pages())


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(index, job_id)
