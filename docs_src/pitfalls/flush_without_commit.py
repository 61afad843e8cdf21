"""Pitfall: `await session.flush()` does not save anything by itself.

The work order ends each status update with `flush()`. That sends the UPDATE inside the
session's transaction; only a commit keeps it. It works because `get_background_session()`
commits on exit. Under a context manager that only closes, the same code is rolled back
without a word.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from docs_src.pitfalls.support import insert_job, read_job, worker
from playbook.app.database import get_engine
from playbook.app.models import Job, JobStatus
from standardized.db import get_background_session

OpenSession = Callable[[], AbstractAsyncContextManager[AsyncSession]]


# --8<-- [start:only_closes]
@asynccontextmanager
async def get_session_that_only_closes() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session  # closing rolls back whatever was not committed


# --8<-- [end:only_closes]


# --8<-- [start:mark]
async def mark_processing(job_id: uuid.UUID, open_session: OpenSession) -> None:
    async with open_session() as session:
        job = await session.get_one(Job, job_id)
        job.status = JobStatus.processing
        await session.flush()  # the UPDATE is sent, in a transaction not yet committed


# --8<-- [end:mark]


async def _status_after(open_session: OpenSession) -> str:
    job_id = await insert_job(total_items=1)
    await mark_processing(job_id, open_session)
    return (await read_job(job_id)).status


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        return {
            "session that only closes": await _status_after(get_session_that_only_closes),
            "get_background_session()": await _status_after(get_background_session),
        }
