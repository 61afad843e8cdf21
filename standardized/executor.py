"""Handing committed jobs to whoever runs them: this process, or procrastinate workers (`EXECUTOR`).

Shows: one interface for both. The route adds the job row; the executor takes it over
in the same transaction, and the one commit makes the job and its queue entry exist
together or not at all. In background mode the job row names this process and the job
starts once the response is sent; a crash between the commit and the start leaves a job
the recovery sweep resumes. In procrastinate mode the queue entry is written by calling
procrastinate's own defer function (`procrastinate_defer_jobs_v1`, from the schema of the
pinned procrastinate 3.10.0) in the SQLAlchemy transaction: the app speaks asyncpg, and
procrastinate's same-transaction defer takes only a psycopg connection.
Does not guarantee: that a queued job runs soon; that depends on the workers running.
"""

import uuid
from collections.abc import Iterable, Sequence
from typing import Annotated, Protocol

from fastapi import BackgroundTasks, Depends, Request
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import Job
from playbook.app.settings import ExecutorName
from standardized.job_functions import Part, parts_of
from standardized.runner import JobRunner
from standardized.worker import QUEUE_NAME, run_job_part


class Executor(Protocol):
    async def enqueue(self, *, session: AsyncSession, jobs: Sequence[Job]) -> None:
        """Take the jobs over in the caller's transaction: name who runs them, queue them."""

    async def start(self, job_ids: Iterable[uuid.UUID]) -> None:
        """After the commit: start what runs in this process (on its event loop, not in a thread)."""

    def running(self) -> frozenset[uuid.UUID]:
        """The jobs running in this process."""

    @property
    def idle(self) -> bool:
        """No job runs in this process."""

    async def wait_idle(self) -> None:
        """Until no job runs in this process; the caller bounds the wait."""

    async def stop(self) -> None:
        """At shutdown: let running jobs finish within the grace period, then cancel them."""


async def submit(
    *, executor: Executor, session: AsyncSession, background_tasks: BackgroundTasks, jobs: Sequence[Job]
) -> None:
    """Queue `jobs` and commit them with their queue entries; start them once the response is sent."""
    await executor.enqueue(session=session, jobs=jobs)
    # One commit: the job rows and their queue entries exist together, or neither does.
    await session.commit()
    background_tasks.add_task(executor.start, [job.id for job in jobs])


def get_executor(request: Request) -> Executor:
    executor: Executor = request.app.state.executor
    return executor


ExecutorDep = Annotated[Executor, Depends(get_executor)]


class BackgroundExecutor:
    """Jobs run in this process; the job row names it, so that a sweep elsewhere resumes them if it dies."""

    def __init__(self, *, instance_id: uuid.UUID, grace: float) -> None:
        self.instance_id = instance_id
        self.runner = JobRunner(instance_id=instance_id, grace=grace)

    async def enqueue(self, *, session: AsyncSession, jobs: Sequence[Job]) -> None:
        for job in jobs:
            job.executor, job.instance_id = "background", self.instance_id
        # Written now, with the process that runs them named; committed by the caller.
        await session.flush()

    async def start(self, job_ids: Iterable[uuid.UUID]) -> None:
        self.runner.start(job_ids)

    def running(self) -> frozenset[uuid.UUID]:
        return self.runner.running

    @property
    def idle(self) -> bool:
        return self.runner.idle

    async def wait_idle(self) -> None:
        await self.runner.wait_idle()

    async def stop(self) -> None:
        await self.runner.stop()


# procrastinate 3.10.0's defer function and its argument type (procrastinate/sql/schema.sql), given
# every entry in one statement. An entry whose queueing lock a waiting entry holds is left out:
# that part waits in the queue already, and the lock would refuse it.
_DEFER_JOBS = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY("
    "SELECT ROW(entry->>'queue_name', entry->>'task_name', CAST(entry->>'priority' AS integer),"
    " entry->>'lock', entry->>'queueing_lock', entry->'args', CAST(NULL AS timestamptz)"
    ")::procrastinate_job_to_defer_v1"
    " FROM jsonb_array_elements(CAST(:entries AS jsonb)) WITH ORDINALITY AS deferred(entry, position)"
    " WHERE NOT EXISTS ("
    "SELECT FROM procrastinate_jobs WHERE status = 'todo' AND queueing_lock = entry->>'queueing_lock')"
    " ORDER BY position)))"
).bindparams(bindparam("entries", type_=JSONB))


def part_lock(job_id: uuid.UUID, part: Part) -> str:
    """Both procrastinate locks of a part: one queued entry at a time, one run at a time."""
    return f"job {job_id} part {part.index + 1}/{part.count}"


class ProcrastinateExecutor:
    """Jobs run on procrastinate workers: each job (a batch: each part) is one queue entry."""

    def __init__(self, *, part_size: int) -> None:
        self.part_size = part_size

    async def enqueue(self, *, session: AsyncSession, jobs: Sequence[Job]) -> None:
        for job in jobs:
            job.executor, job.instance_id = "procrastinate", None
        # The job rows first, then their queue entries: both in the caller's transaction.
        await session.flush()
        for job in jobs:
            await defer_parts(session=session, job_id=job.id, parts=parts_of(job, part_size=self.part_size))

    async def start(self, job_ids: Iterable[uuid.UUID]) -> None:
        """Nothing runs here: the workers take the queue entries once the transaction committed."""

    def running(self) -> frozenset[uuid.UUID]:
        return frozenset()

    @property
    def idle(self) -> bool:
        return True

    async def wait_idle(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def defer_parts(*, session: AsyncSession, job_id: uuid.UUID, parts: list[Part]) -> None:
    """Queue each part of job `job_id` in the caller's transaction; a part already waiting is not queued twice."""
    # procrastinate builds each queue entry as its own defer would (task name, queue, priority)...
    entries = [
        run_job_part.configure(
            queue=QUEUE_NAME,
            lock=part_lock(job_id, part),
            queueing_lock=part_lock(job_id, part),
            task_kwargs={"job_id": str(job_id), "part": part.index, "parts": part.count},
        ).job
        for part in parts
    ]
    # ...and its defer function inserts them all, in one statement of this transaction.
    await session.execute(
        _DEFER_JOBS,
        {
            "entries": [
                {
                    "queue_name": entry.queue,
                    "task_name": entry.task_name,
                    "priority": entry.priority,
                    "lock": entry.lock,
                    "queueing_lock": entry.queueing_lock,
                    "args": entry.task_kwargs,
                }
                for entry in entries
            ]
        },
    )


def build_executor(*, name: ExecutorName, instance_id: uuid.UUID, grace: float, part_size: int) -> Executor:
    if name == "procrastinate":
        return ProcrastinateExecutor(part_size=part_size)
    return BackgroundExecutor(instance_id=instance_id, grace=grace)
