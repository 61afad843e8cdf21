"""Pitfall: a JSON dict changed in place is not written on commit.

SQLAlchemy compares a JSON column's value by identity: `job.item_results[item] = ...`
changes the dict it already holds, so the unit of work sees no change and the commit
writes nothing. Assigning a new dict, a `MutableDict` column, or an SQL expression is
written.
"""

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from docs_src.pitfalls.support import insert_job, read_job, worker
from playbook.app.database import get_engine
from playbook.app.models import Job
from standardized.db import get_background_session
from standardized.jobs import record_item

ITEM = "alpha.test"


class TrackedBase(DeclarativeBase):
    pass


# --8<-- [start:mutable]
class TrackedJob(TrackedBase):
    __tablename__ = "docs_tracked_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    # MutableDict reports changes made in place to the session.
    item_results: Mapped[dict[str, str]] = mapped_column(MutableDict.as_mutable(JSONB), default=dict)


# --8<-- [end:mutable]


# --8<-- [start:in_place]
async def record_in_place(job_id: uuid.UUID, item: str) -> None:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        job.item_results[item] = "completed"  # the same dict object: no change is seen


# --8<-- [end:in_place]


# --8<-- [start:reassigned]
async def record_by_reassigning(job_id: uuid.UUID, item: str) -> None:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        job.item_results = {**job.item_results, item: "completed"}  # a new value: written


# --8<-- [end:reassigned]


async def record_in_a_mutable_dict(job_id: int, item: str) -> None:
    async with get_background_session() as session:
        job = await session.get_one(TrackedJob, job_id)
        job.item_results[item] = "completed"


async def record_in_sql(job_id: uuid.UUID, item: str) -> None:
    """The standard's way: `standardized.jobs.record_item`, an atomic UPDATE."""
    async with get_background_session() as session:
        await record_item(session=session, job_id=job_id, item=item, error=None)


async def _tracked_results_after(record: Callable[[int, str], Awaitable[None]]) -> dict[str, str]:
    async with get_engine().begin() as connection:
        await connection.run_sync(TrackedBase.metadata.create_all)
    async with get_background_session() as session:
        job = TrackedJob()
        session.add(job)
    await record(job.id, ITEM)
    async with AsyncSession(get_engine()) as session:
        return (await session.get_one(TrackedJob, job.id)).item_results


async def _results_after(record: Callable[[uuid.UUID, str], Awaitable[None]]) -> dict[str, str]:
    job_id = await insert_job(total_items=1)
    await record(job_id, ITEM)
    return (await read_job(job_id)).item_results


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        return {
            "changed in place": await _results_after(record_in_place),
            "reassigned": await _results_after(record_by_reassigning),
            "standard: SQL expression": await _results_after(record_in_sql),
            "MutableDict column": await _tracked_results_after(record_in_a_mutable_dict),
        }
