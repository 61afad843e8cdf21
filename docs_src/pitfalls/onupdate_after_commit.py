"""Pitfall: `expire_on_commit=False` does not keep `onupdate` columns loaded (F3).

`Job.updated_at` has `onupdate=func.now()`: an SQL expression the database evaluates, so
the flush expires the attribute instead of setting it. Reading it afterwards needs a
query: inside the session that is implicit IO (MissingGreenlet), after the session closed
there is nothing to query with (DetachedInstanceError). Load it explicitly while the
session is open.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.engine import URL

from docs_src.pitfalls.support import describe, insert_job, worker
from playbook.app.models import Job, JobStatus
from standardized.db import get_background_session


# --8<-- [start:inside]
async def read_updated_at_inside(job_id: uuid.UUID) -> datetime:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        job.status = JobStatus.processing
        await session.flush()  # updated_at = now() in SQL: the attribute is expired
        return job.updated_at  # needs a SELECT, outside SQLAlchemy's greenlet


# --8<-- [end:inside]


# --8<-- [start:after]
async def read_updated_at_after(job_id: uuid.UUID) -> datetime:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        job.status = JobStatus.processing
    return job.updated_at  # the session is closed: nothing can load it


# --8<-- [end:after]


# --8<-- [start:awaited]
async def read_updated_at_awaited(job_id: uuid.UUID) -> datetime:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        job.status = JobStatus.processing
        await session.flush()
        updated_at: datetime = await job.awaitable_attrs.updated_at  # an explicit, awaited load (AsyncAttrs)
        return updated_at


# --8<-- [end:awaited]


async def _outcome(read: Callable[[uuid.UUID], Awaitable[datetime]]) -> str:
    try:
        value = await read(await insert_job(total_items=1))
    except Exception as exc:
        return describe(exc)
    return f"{type(value).__name__} with tzinfo {value.tzinfo}"


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        return {
            "read inside the session": await _outcome(read_updated_at_inside),
            "read after the session": await _outcome(read_updated_at_after),
            "awaitable_attrs": await _outcome(read_updated_at_awaited),
        }
