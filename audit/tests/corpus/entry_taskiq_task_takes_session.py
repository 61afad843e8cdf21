# expect: R1
# A taskiq task declared to take an AsyncSession.
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import InMemoryBroker

broker = InMemoryBroker()


@broker.task
async def reindex(session: AsyncSession, job_id: int) -> None:
    await session.commit()
