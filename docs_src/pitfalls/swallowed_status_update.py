"""Pitfall: "continue processing even if the status update fails".

The work order wraps every status write in `try/except Exception` that logs and goes on.
When the final write fails, the task returns normally and the job stays `processing`:
no error on the row, nothing for a client or a retry to act on. The standard lets the
error reach `run_job`, which records a terminal status in a fresh session (R5, R6).
Here the write fails because the status is longer than the column; a lost connection or
a pool timeout fails it the same way.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import URL

from docs_src.pitfalls.support import insert_job, logged_messages, read_job, worker
from playbook.app.models import Job, JobStatus, utcnow
from standardized.db import get_background_session
from standardized.jobs import run_job

logger = logging.getLogger(__name__)

# A new status someone added; the column holds 16 characters.
FINAL_STATUS = "completed_with_errors"


# --8<-- [start:swallowed]
async def finish_batch_swallowing_errors(batch_id: uuid.UUID) -> None:
    try:
        async with get_background_session() as session:
            batch = await session.get(Job, batch_id)
            if batch:
                batch.status = FINAL_STATUS
                batch.end_time = utcnow()
                await session.flush()
    except Exception as e:
        logger.error(f"Error updating final status: {e!s}", exc_info=True)


# --8<-- [end:swallowed]


# --8<-- [start:propagated]
async def finish_batch(batch_id: uuid.UUID) -> None:
    async with get_background_session() as session:
        batch = await session.get_one(Job, batch_id)
        batch.status = FINAL_STATUS
        batch.end_time = utcnow()


async def process_batch(batch_id: uuid.UUID) -> None:
    await run_job(job_id=batch_id, work=finish_batch(batch_id))


# --8<-- [end:propagated]


def _first_lines(messages: list[str]) -> list[str]:
    return [message.splitlines()[0] for message in messages]


async def _after(finish: Callable[[uuid.UUID], Awaitable[None]]) -> dict[str, object]:
    job_id = await insert_job(total_items=1, status=JobStatus.processing)
    await finish(job_id)
    job = await read_job(job_id)
    error = job.error.splitlines()[0] if job.error else None
    return {"status": job.status, "error": error, "ended": job.end_time is not None}


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        with logged_messages(logger) as swallowed_log:
            swallowed = await _after(finish_batch_swallowing_errors)
        propagated = await _after(process_batch)
    return {"swallowed": swallowed, "swallowed log": _first_lines(swallowed_log), "run_job": propagated}
