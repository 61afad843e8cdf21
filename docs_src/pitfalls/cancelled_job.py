"""Pitfall: a cancelled task leaves its job `processing`.

`asyncio.CancelledError` is a `BaseException`: the work order's `except Exception` blocks
never see it, so a task cancelled mid-batch (uvicorn cancels running tasks when its
graceful-shutdown timeout runs out; a timeout or task group around the work does the
same) ends with no status written. The standard's `run_job` catches the cancellation,
marks the job `interrupted` in a fresh session (not finished, to be resumed by the next
process) and re-raises it.
"""

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from contextlib import suppress

from sqlalchemy.engine import URL

from docs_src.pitfalls import work_order_batch
from docs_src.pitfalls.support import insert_job, read_job, worker
from playbook.app.models import JobStatus
from standardized.services.batch.batch_functions import process_batch_with_own_session

POLL_SECONDS = 0.01


async def wait_for_status(job_id: uuid.UUID, status: JobStatus) -> None:
    # Only the job's row tells that the work got there: poll the database for it.
    while (await read_job(job_id)).status != status:  # noqa: ASYNC110
        await asyncio.sleep(POLL_SECONDS)


# --8<-- [start:cancel]
async def cancel_while_processing(job_id: uuid.UUID, work: Coroutine[None, None, None]) -> None:
    task = asyncio.create_task(work)
    await wait_for_status(job_id, JobStatus.processing)
    task.cancel()  # what a shutdown past its graceful timeout does to a running task
    with suppress(asyncio.CancelledError):
        await task


# --8<-- [end:cancel]


async def _after_cancelling(work_for: Callable[[uuid.UUID], Coroutine[None, None, None]]) -> dict[str, object]:
    job_id = await insert_job(total_items=10)
    await cancel_while_processing(job_id, work_for(job_id))
    job = await read_job(job_id)
    return {"status": job.status, "error": job.error, "ended": job.end_time is not None}


def _work_order_batch(job_id: uuid.UUID) -> Coroutine[None, None, None]:
    items = [f"site-{n}.test" for n in range(10)]
    return work_order_batch.process_batch_with_own_session(str(job_id), items, "user-1")


def _standard_batch(job_id: uuid.UUID) -> Coroutine[None, None, None]:
    # timeout-*.test answers only after the client's timeout: the task is mid-item when cancelled.
    return process_batch_with_own_session(job_id, ["timeout-1.test", "alpha.test"])


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        return {
            "work order": await _after_cancelling(_work_order_batch),
            "standard": await _after_cancelling(_standard_batch),
        }
