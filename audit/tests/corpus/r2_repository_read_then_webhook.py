# expect: R2
# A repository made with a classmethod on a generic base reads the row (through the real
# definition after its @overload stubs); the webhook is then sent while that read's
# transaction holds the connection.
from typing import Generic, Literal, TypeVar, overload

import httpx
from _support import Job, get_background_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")


class Repository(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> "Repository[M]":
        return cls(session)

    @overload
    async def get(self, id: int, *, lock: Literal[False] = False) -> M | None: ...

    @overload
    async def get(self, id: int, *, lock: Literal[True]) -> M | None: ...

    async def get(self, id: int, *, lock: bool = False) -> M | None:
        return (await self.session.scalars(select(self.model).where(self.model.id == id))).first()


class JobRepository(Repository[Job]):
    model = Job


class Notifier:
    async def send(self, url: str, job_id: int) -> None:
        async with httpx.AsyncClient() as client:
            await client.post(url, json={"job": job_id})


notifier = Notifier()


async def notify(job_id: int, url: str) -> None:
    async with get_background_session() as session:
        job = await JobRepository.from_session(session).get(job_id)
        if job is not None:
            await notifier.send(url, job.id)


async def start(job_id: int, url: str, background_tasks) -> None:
    background_tasks.add_task(notify, job_id, url)
