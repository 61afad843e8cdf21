"""Each process that runs jobs, its heartbeat, and the sweep that resumes the jobs of dead ones.

Shows: a process registered as an `Instance` row with a heartbeat every
`HEARTBEAT_INTERVAL` seconds, judged by the database's clock; at startup and with every
heartbeat, a sweep that takes over the unfinished background jobs of processes that are
gone (shut down, or silent for `DEAD_AFTER` seconds), claimed in one atomic UPDATE so two
sweeps never take the same job, and hands them to this process's executor in the same
transaction; a job that already had `MAX_ATTEMPTS` runs is failed with the reason instead.
A live process's jobs are never touched, and a stale heartbeat is trusted only once this
process has itself reached the database for two heartbeats in a row: after an outage that
silenced everyone, live processes get the time to beat again.
Does not guarantee: that a process judged dead has stopped (one whose event loop is
blocked past `DEAD_AFTER` is taken over while it runs); the jobs' idempotent writes (R7)
keep the results right when that happens.
"""

import asyncio
import logging
import os
import socket
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import UNFINISHED_STATUSES, Instance, Job, JobStatus
from playbook.app.settings import Settings
from standardized.db import get_background_session, is_transient

logger = logging.getLogger(__name__)

# Takes jobs over inside the sweep's transaction (queues them, or marks them this process's), and returns
# what to do once that transaction committed (start them here).
StartAdopted = Callable[[], Awaitable[None]]
Adopt = Callable[[AsyncSession, Sequence[Job]], Awaitable[StartAdopted]]


@dataclass
class ThisProcess:
    """This process as an `Instance`, and since when its heartbeats reach the database without a break."""

    id: uuid.UUID
    role: str
    healthy_since: float | None = field(default=None)

    def beat(self, *, reached_database: bool) -> None:
        now = asyncio.get_running_loop().time()
        if not reached_database:
            self.healthy_since = None
        elif self.healthy_since is None:
            self.healthy_since = now

    def trusts_stale_heartbeats(self, *, heartbeat_interval: float) -> bool:
        healthy_for = 0.0 if self.healthy_since is None else asyncio.get_running_loop().time() - self.healthy_since
        return healthy_for >= 2 * heartbeat_interval


_current: ThisProcess | None = None


def current_instance_id() -> uuid.UUID | None:
    """The `Instance` id of this process, while it is registered."""
    return None if _current is None else _current.id


@asynccontextmanager
async def registered_instance(*, role: str) -> AsyncIterator[ThisProcess]:
    """This process as an instance for the block. Its row is written now if the database answers,
    else by its first heartbeat (`keep_alive`): a process starts whether the database answers or
    not. At exit its unfinished jobs are marked interrupted and the row is deleted, so that the
    next sweep anywhere resumes them without waiting."""
    global _current
    me = ThisProcess(id=uuid.uuid4(), role=role)
    # Written before any job can name this process, so that no sweep elsewhere takes it for gone.
    # A database that cannot be used yet (down, not created, without its schema) is no reason not
    # to start: `/health` says so, and the heartbeat registers this process once it can.
    try:
        async with get_background_session() as session:
            await _insert(session=session, me=me)
    except (DBAPIError, OSError) as exc:
        logger.warning("instance %s: not registered yet (%s); its heartbeat will register it", me.id, exc)
    _current = me
    logger.info("instance %s (%s, pid %d) registered", me.id, role, os.getpid())
    try:
        yield me
    finally:
        _current = None
        await _leave(me=me)


async def _insert(*, session: AsyncSession, me: ThisProcess) -> None:
    await session.execute(
        insert(Instance).values(id=me.id, role=me.role, hostname=socket.gethostname(), pid=os.getpid())
    )


async def _leave(*, me: ThisProcess) -> None:
    # One attempt, not retried: a shutdown does not wait for the database. If it fails, the row
    # goes stale instead, and the jobs are resumed once `DEAD_AFTER` has passed.
    try:
        async with get_background_session() as session:
            await session.execute(
                update(Job)
                .where(Job.instance_id == me.id, Job.executor == "background", Job.status.in_(UNFINISHED_STATUSES))
                .values(status=JobStatus.interrupted)
            )
            await session.execute(delete(Instance).where(Instance.id == me.id))
    except (DBAPIError, OSError) as exc:
        logger.warning("instance %s: could not leave (%s); its jobs resume after DEAD_AFTER", me.id, exc)


async def heartbeat(*, session: AsyncSession, me: ThisProcess) -> None:
    """Say this process is alive; registered by the first beat, and again if a sweep elsewhere pruned it."""
    beat = await session.execute(update(Instance).where(Instance.id == me.id).values(heartbeat_at=func.now()))
    # An UPDATE's result is a CursorResult, which counts the rows; `execute` is typed for any statement.
    if typing.cast(CursorResult[Any], beat).rowcount == 0:
        await _insert(session=session, me=me)


async def adopt_orphaned_jobs(
    *,
    session: AsyncSession,
    me: ThisProcess,
    settings: Settings,
    running_here: frozenset[uuid.UUID],
    adopt: Adopt,
) -> StartAdopted:
    """Fail the orphaned jobs out of runs, claim the others and hand them to `adopt`, in one transaction.

    Orphaned: an unfinished background job whose process is gone, or that this process
    owns but has not run for `DEAD_AFTER` seconds (its start was lost, or its task ended
    without a status).
    """
    dead_after = timedelta(seconds=settings.dead_after)
    alive = select(Instance.id).where(Instance.heartbeat_at >= func.now() - dead_after)
    known = select(Instance.id)
    gone = not_(
        Job.instance_id.in_(
            alive if me.trusts_stale_heartbeats(heartbeat_interval=settings.heartbeat_interval) else known
        )
    )
    orphaned = (
        Job.executor == "background",
        Job.status.in_(UNFINISHED_STATUSES),
        Job.instance_id.is_not(None),
        or_(
            (Job.instance_id != me.id) & gone,
            # Its own, untouched for as long: not one whose start is still on its way.
            (Job.instance_id == me.id) & Job.id.not_in(running_here) & (Job.updated_at < func.now() - dead_after),
        ),
    )
    # A job that already had its runs is failed with the reason, not run once more.
    out_of_runs = await session.scalars(
        update(Job)
        .where(*orphaned, Job.attempts >= settings.max_attempts)
        .values(
            status=JobStatus.failed,
            error=f"stopped unfinished in each of its {settings.max_attempts} runs: no more are made",
            end_time=func.now(),
        )
        .returning(Job.id)
    )
    for job_id in out_of_runs:
        logger.error("job %s: stopped unfinished in each of its runs, marked failed", job_id)
    # SKIP LOCKED: a job another sweep is claiming right now is that sweep's.
    claimable = select(Job.id).where(*orphaned).with_for_update(skip_locked=True)
    claimed = await session.scalars(
        update(Job).where(Job.id.in_(claimable)).values(status=JobStatus.pending).returning(Job)
    )
    jobs = claimed.all()
    if not jobs:
        return _nothing_to_start
    for job in jobs:
        logger.warning("job %s: running nowhere, taken over by instance %s", job.id, me.id)
    return await adopt(session, jobs)


async def _nothing_to_start() -> None:
    return None


async def prune_dead_instances(*, session: AsyncSession, settings: Settings) -> None:
    """Delete instances silent for `DEAD_AFTER` that no unfinished job names any more."""
    owns_unfinished = exists().where(Job.instance_id == Instance.id, Job.status.in_(UNFINISHED_STATUSES))
    await session.execute(
        delete(Instance).where(
            Instance.heartbeat_at < func.now() - timedelta(seconds=settings.dead_after), not_(owns_unfinished)
        )
    )


async def keep_alive(
    *, me: ThisProcess, settings: Settings, running_here: Callable[[], frozenset[uuid.UUID]], adopt: Adopt | None
) -> None:
    """After the first `beat_and_sweep` (at startup, before the process takes work), one every
    `HEARTBEAT_INTERVAL` seconds until cancelled."""
    while True:
        await asyncio.sleep(settings.heartbeat_interval)
        await beat_and_sweep(me=me, settings=settings, running_here=running_here(), adopt=adopt)


async def beat_and_sweep(
    *, me: ThisProcess, settings: Settings, running_here: frozenset[uuid.UUID], adopt: Adopt | None
) -> None:
    """Beat once; with `adopt`, sweep for orphaned jobs. A failure is logged, never raised: the next beat
    tries again, so a heartbeat never waits for the database (a silent process is what others look for)."""
    try:
        async with get_background_session() as session:
            await heartbeat(session=session, me=me)
        me.beat(reached_database=True)
        if adopt is not None:
            await _sweep(me=me, settings=settings, running_here=running_here, adopt=adopt)
    except Exception as exc:
        me.beat(reached_database=False)
        # A database away is expected now and then: one line, not a traceback per beat.
        logger.log(
            logging.WARNING if is_transient(exc) else logging.ERROR,
            "instance %s: heartbeat or recovery sweep failed, next in %g s",
            me.id,
            settings.heartbeat_interval,
            exc_info=not is_transient(exc),
        )


async def _sweep(*, me: ThisProcess, settings: Settings, running_here: frozenset[uuid.UUID], adopt: Adopt) -> None:
    async with get_background_session() as session:
        start_adopted = await adopt_orphaned_jobs(
            session=session, me=me, settings=settings, running_here=running_here, adopt=adopt
        )
        if me.trusts_stale_heartbeats(heartbeat_interval=settings.heartbeat_interval):
            await prune_dead_instances(session=session, settings=settings)
    # Started only once the claim committed: no other sweep can take them any more.
    await start_adopted()
