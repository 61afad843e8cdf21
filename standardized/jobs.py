"""Job status transitions for background work, each in its own short transaction.

Shows: status and counters written with atomic SQL (R9); a job that always ends in a
terminal status with its error recorded (R5, R6), or `interrupted` when it was cancelled
(a shutdown), so that it is resumed instead of failed; writes retried on a transient
database error, which is safe because each of them is idempotent (R7): recording an
item twice counts it once, and a resumed job skips the items the database already holds.
A terminal status never changes here: writes to a finished job are refused (`JobFinished`).
Does not guarantee: that a job is resumed after its process died; that is the recovery
sweep's work (`standardized.recovery`) or the task engine's (`standardized.worker`).
"""

import asyncio
import logging
import typing
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

from sqlalchemy import ARRAY, CursorResult, Text, case, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.errors import describe_failure
from playbook.app.models import UNFINISHED_STATUSES, Job, JobStatus
from standardized.db import run_in_transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


class JobFinished(Exception):
    """The job is terminal (or gone): whatever still runs for it stops without writing."""


async def create_job(*, session: AsyncSession, owner: str, kind: str, total_items: int, params: dict[str, Any]) -> Job:
    """Add a pending job of `owner` to the caller's session; the executor that takes it over writes and commits it."""
    # The id is known now, so that the queue entry can name the job in the same transaction.
    job = Job(id=uuid.uuid4(), owner=owner, kind=kind, total_items=total_items, params=params)
    session.add(job)
    return job


async def start_job(*, job_id: uuid.UUID) -> set[str]:
    """Mark the job processing; return the items it already recorded, which a resumed run skips.

    Raises `LookupError` if there is no such job, `JobFinished` if it is terminal.
    """

    async def start(session: AsyncSession) -> set[str]:
        # Nothing is reset: what an earlier attempt recorded stays, and is not done again (R7).
        recorded: dict[str, str] | None = await session.scalar(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(UNFINISHED_STATUSES))
            .values(status=JobStatus.processing, start_time=func.now(), end_time=None)
            .returning(Job.item_results)
        )
        if recorded is None:
            await _raise_unfinishable(session=session, job_id=job_id)
        return set(recorded)

    return await run_in_transaction(start)


async def _raise_unfinishable(*, session: AsyncSession, job_id: uuid.UUID) -> NoReturn:
    status = await session.scalar(select(Job.status).where(Job.id == job_id))
    if status is None:
        raise LookupError(f"job {job_id} does not exist")
    raise JobFinished(f"job {job_id} is already {status}")


async def record_item(*, session: AsyncSession, job_id: uuid.UUID, item: str, error: str | None) -> None:
    """Count one item and store its outcome with atomic SQL (R9), in the caller's transaction."""
    await record_items(session=session, job_id=job_id, errors={item: error})


async def record_items(*, session: AsyncSession, job_id: uuid.UUID, errors: dict[str, str | None]) -> None:
    """Count several items ({item: error or None}) in one atomic UPDATE, in the caller's transaction.

    Idempotent: an item recorded again replaces its earlier outcome and is counted once.
    Raises `JobFinished` when the job is terminal, so the caller's transaction rolls back
    with everything it wrote for these items.
    """
    outcomes = {item: "completed" if error is None else f"failed: {error}" for item, error in errors.items()}
    failures = {item: error for item, error in errors.items() if error is not None}
    last_failure = next(reversed(failures.items()), None)
    jobs = Job.__table__.c
    items = cast(list(outcomes), ARRAY(Text))
    # How these items stood before: counted once already if the job recorded them earlier.
    earlier = func.unnest(items).table_valued("item").render_derived()
    earlier_outcome = jobs.item_results.op("->>")(earlier.c.item)
    completed_before = select(func.count()).select_from(earlier).where(earlier_outcome == "completed")
    failed_before = select(func.count()).select_from(earlier).where(earlier_outcome != "completed")
    # A Core statement on the table: it runs on every item, and needs none of the ORM's
    # bookkeeping for objects this session never loaded.
    recorded = await session.execute(
        update(Job.__table__)
        .where(jobs.id == job_id, jobs.status.in_(UNFINISHED_STATUSES))
        .values(
            completed_count=jobs.completed_count + (len(errors) - len(failures)) - completed_before.scalar_subquery(),
            failed_count=jobs.failed_count + len(failures) - failed_before.scalar_subquery(),
            # A new JSONB value built in SQL: no read-modify-write, nothing lost (R9).
            item_results=jobs.item_results.op("||")(
                func.jsonb_object(items, cast(list(outcomes.values()), ARRAY(Text)))
            ),
            error=jobs.error if last_failure is None else f"Error processing item {last_failure[0]}: {last_failure[1]}",
        )
    )
    # An UPDATE's result is a CursorResult, which counts the rows; `execute` is typed for any statement.
    if typing.cast(CursorResult[Any], recorded).rowcount != 1:
        await _raise_unfinishable(session=session, job_id=job_id)


async def finish_job(*, job_id: uuid.UUID) -> None:
    """Set the final status from the counts the database holds, once every item is recorded.

    A job shared out in parts is finished by whichever part records its last item.
    """

    async def finish(session: AsyncSession) -> None:
        await session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status.in_(UNFINISHED_STATUSES),
                Job.completed_count + Job.failed_count >= Job.total_items,
            )
            .values(
                status=case(
                    (Job.failed_count == 0, JobStatus.completed),
                    (Job.completed_count == 0, JobStatus.failed),
                    else_=JobStatus.partial,
                ),
                end_time=func.now(),
            )
        )

    await run_in_transaction(finish)


async def fail_job(*, job_id: uuid.UUID, error: str) -> None:
    """Mark an unfinished job failed with `error`; a terminal one keeps its status."""
    await _set_unfinished_status(job_id=job_id, status=JobStatus.failed, error=error, end_time=func.now())


async def interrupt_job(*, job_id: uuid.UUID) -> None:
    """Mark an unfinished job interrupted: it stopped before it finished, and will be resumed.
    Not an error: the job keeps the last item error it recorded."""
    await _set_unfinished_status(job_id=job_id, status=JobStatus.interrupted)


async def _set_unfinished_status(*, job_id: uuid.UUID, status: JobStatus, **values: Any) -> None:
    async def write(session: AsyncSession) -> None:
        # A fresh session: the one that failed may be unusable (R5).
        await session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(UNFINISHED_STATUSES)).values(status=status, **values)
        )

    await run_in_transaction(write)


class NotRetryable(Exception):
    """Only a failed or partial job can be retried."""


async def reopen_for_retry(*, session: AsyncSession, job_id: uuid.UUID, owner: str) -> Job:
    """Make a failed or partial job of `owner` pending again, in the caller's transaction, keeping
    only its completed items: the retry runs the failed and the unprocessed ones.

    Raises `LookupError` if `owner` has no such job, `NotRetryable` if it is not failed or partial.
    The one transition out of a terminal status, and only on request.
    """
    outcomes = func.jsonb_each_text(Job.item_results).table_valued("key", "value").render_derived()
    completed_only = (
        select(func.coalesce(func.jsonb_object_agg(outcomes.c.key, outcomes.c.value), func.jsonb_build_object()))
        .where(outcomes.c.value == "completed")
        .scalar_subquery()
    )
    reopened: Job | None = await session.scalar(
        update(Job)
        .where(Job.id == job_id, Job.owner == owner, Job.status.in_([JobStatus.failed, JobStatus.partial]))
        .values(
            status=JobStatus.pending,
            item_results=completed_only,
            failed_count=0,
            error=None,
            end_time=None,
            attempts=0,
        )
        .returning(Job)
    )
    if reopened is None:
        status = await session.scalar(select(Job.status).where(Job.id == job_id, Job.owner == owner))
        if status is None:
            raise LookupError(f"job {job_id} not found")
        raise NotRetryable(f"job {job_id} is {status}: only a failed or partial job can be retried")
    return reopened


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
    """Await `work` as job `job_id`; whatever happens, the job ends terminal with the error recorded,
    or `interrupted` if it was cancelled."""
    try:
        await work
    except asyncio.CancelledError:
        logger.warning("job %s cancelled before it finished", job_id)
        # Not failed: a cancelled job (a shutdown, a time limit) is resumed or failed by whoever cancelled it.
        await interrupt_job(job_id=job_id)
        raise
    except Exception as exc:
        if _finished(exc):
            logger.info("job %s: stopped, %s", job_id, describe_failure(exc))
            return
        # Recorded and logged, not re-raised: a raising task would stop the tasks queued after it (F11).
        # The log has the whole exception; the job, a short description without SQL or paths.
        logger.exception("job %s failed", job_id)
        await fail_job(job_id=job_id, error=describe_failure(exc))


def _finished(exc: BaseException) -> bool:
    """`JobFinished`, alone or as everything a TaskGroup's workers raised."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_finished(inner) for inner in exc.exceptions)
    return isinstance(exc, JobFinished)
