"""Pitfall: `datetime.now()` in timezone-aware columns.

The job timestamps are `timestamptz`. `datetime.now()` is naive: the host's wall clock
with no zone. asyncpg stores a naive value as if it were UTC, which is right only on a
host whose clock is UTC. With `expire_on_commit=False` the naive value also stays on the
object after commit, where the API schema (`AwareDatetime`) rejects it and arithmetic
with the aware values read from the database fails.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.engine import URL

from docs_src.pitfalls.support import describe, insert_job, read_job, worker
from playbook.app.models import Job, utcnow
from playbook.app.schemas import JobOut
from standardized.db import get_background_session

Clock = Callable[[], datetime]


# --8<-- [start:start]
async def start_job(job_id: uuid.UUID, clock: Clock) -> Job:
    async with get_background_session() as session:
        job = await session.get_one(Job, job_id)
        job.start_time = clock()  # datetime.now: naive; utcnow: datetime.now(UTC)
    return job


# --8<-- [end:start]


def _serialized(job: Job) -> str:
    try:
        JobOut.model_validate(job)
    except ValidationError as exc:
        [error] = exc.errors()
        return f"ValidationError: {error['loc'][0]}: {error['msg']}"
    return "valid"


def _time_since_created(job: Job) -> str:
    assert job.start_time is not None, "start_job sets it"
    try:
        job.start_time - job.created_at
    except TypeError as exc:
        return describe(exc)
    return "computed"


async def _started_with(clock: Clock) -> dict[str, object]:
    job = await start_job(await insert_job(total_items=1), clock)
    stored = await read_job(job.id)
    assert job.start_time is not None, "start_job sets it"
    return {
        "zone in memory": job.start_time.tzinfo,
        "response schema": _serialized(job),
        "start_time - created_at": _time_since_created(job),
        "stored instant": "as written, read as UTC"
        if stored.start_time == job.start_time.replace(tzinfo=UTC)
        else "other",
    }


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        return {"datetime.now()": await _started_with(datetime.now), "utcnow()": await _started_with(utcnow)}
