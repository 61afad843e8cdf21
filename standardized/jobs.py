"""Job status transitions for background work, each in its own short session.

Shows: status and counters written with atomic SQL (R9), a job that always ends in a
terminal status with its error recorded (R5, R6), and a re-run that starts from zero (R7).
Does not guarantee: recovery after the process dies mid-job; that needs a reaper or a
task engine that re-runs stalled jobs.
"""

import asyncio
import logging
import typing
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from sqlalchemy import ARRAY, CursorResult, Text, case, cast, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.errors import describe_failure
from playbook.app.models import Job, JobStatus
from standardized.db import get_background_session

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def create_job(*, session: AsyncSession, owner: str, kind: str, total_items: int, params: dict[str, Any]) -> Job:
    """Insert a pending job of `owner` and commit, so a background task started next finds it."""
    job = Job(owner=owner, kind=kind, total_items=total_items, params=params)
    session.add(job)
    await session.commit()
    return job


async def start_job(*, job_id: uuid.UUID) -> None:
    """Mark the job processing; raise `LookupError` if there is no such job."""
    # A re-run resets what an earlier attempt wrote, so counts stay correct (R7).
    async with get_background_session() as session:
        started = await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.processing,
                start_time=func.now(),
                end_time=None,
                completed_count=0,
                failed_count=0,
                error=None,
                item_results={},
            )
        )
        # An UPDATE's result is a CursorResult, which counts the rows; `execute` is typed for any statement.
        if typing.cast(CursorResult[Any], started).rowcount != 1:
            raise LookupError(f"job {job_id} does not exist")


async def record_item(*, session: AsyncSession, job_id: uuid.UUID, item: str, error: str | None) -> None:
    """Count one item and store its outcome with atomic SQL (R9), in the caller's transaction."""
    await record_items(session=session, job_id=job_id, errors={item: error})


async def record_items(*, session: AsyncSession, job_id: uuid.UUID, errors: dict[str, str | None]) -> None:
    """Count several items ({item: error or None}) in one atomic UPDATE, in the caller's transaction."""
    outcomes = {item: "completed" if error is None else f"failed: {error}" for item, error in errors.items()}
    failures = {item: error for item, error in errors.items() if error is not None}
    last_failure = next(reversed(failures.items()), None)
    jobs = Job.__table__.c
    # A Core statement on the table: it runs on every item, and needs none of the ORM's
    # bookkeeping for objects this session never loaded.
    await session.execute(
        update(Job.__table__)
        .where(jobs.id == job_id)
        .values(
            completed_count=jobs.completed_count + (len(errors) - len(failures)),
            failed_count=jobs.failed_count + len(failures),
            # A new JSONB value built in SQL: no read-modify-write, nothing lost (R9).
            item_results=jobs.item_results.op("||")(
                func.jsonb_object(cast(list(outcomes), ARRAY(Text)), cast(list(outcomes.values()), ARRAY(Text)))
            ),
            error=jobs.error if last_failure is None else f"Error processing item {last_failure[0]}: {last_failure[1]}",
        )
    )


async def finish_job(*, job_id: uuid.UUID) -> None:
    """Set the final status from the counts the database holds."""
    async with get_background_session() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=case(
                    (Job.failed_count == 0, JobStatus.completed),
                    (Job.completed_count == 0, JobStatus.failed),
                    else_=JobStatus.partial,
                ),
                end_time=func.now(),
            )
        )


async def fail_job(*, job_id: uuid.UUID, error: str) -> None:
    # A fresh session: the one that failed may be unusable (R5).
    async with get_background_session() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(status=JobStatus.failed, error=error, end_time=func.now())
        )


async def run_workers(
    *, items: list[T], workers: int, work: Callable[[Iterator[T]], Coroutine[Any, Any, None]]
) -> None:
    """Run `workers` copies of `work` over one shared iterator of `items` (R4).

    Each worker takes the next item when it is free and opens its own sessions; a
    TaskGroup cancels and awaits the others if one raises, and `run_job` records why.
    """
    remaining = iter(items)
    async with asyncio.TaskGroup() as group:
        for _ in range(min(workers, len(items))):
            group.create_task(work(remaining))


async def run_job(*, job_id: uuid.UUID, work: Awaitable[None]) -> None:
    """Await `work` as job `job_id`; whatever happens, the job ends terminal with the error recorded."""
    try:
        await work
    except asyncio.CancelledError:
        logger.warning("job %s cancelled", job_id)
        await fail_job(job_id=job_id, error="cancelled before it finished")
        raise
    except Exception as exc:
        # Recorded and logged, not re-raised: a raising task would stop the tasks queued after it (F11).
        # The log has the whole exception; the job, a short description without SQL or paths.
        logger.exception("job %s failed", job_id)
        await fail_job(job_id=job_id, error=describe_failure(exc))
