"""The job reaper spec: the background task the work order did not list (docs/work-order.md).

Both variants start a reaper in their lifespan. Legacy's reaper logs from jobs that its
closed session detached, so the first sweep that finds a stuck job raises
DetachedInstanceError after marking the jobs failed (F7), and the loop dies with it, unseen
(F11); those runs are strict xfails. Stuck jobs are written straight into the database with an old `updated_at`, and
deleted again at the end of each test, so no other test's reaper finds them.
"""

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from types import ModuleType

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.exc import DetachedInstanceError

from legacy.db import get_session as get_legacy_request_session
from legacy.tasks import job_reaper as legacy_reaper
from playbook.app.database import bound_engine, get_pool_stats
from playbook.app.factory import create_app
from playbook.app.models import TERMINAL_STATUSES, Job, JobStatus, utcnow
from playbook.app.settings import Settings, Variant
from playbook.harness.server import RunningApp, serve_in_process
from standardized.db import get_background_session
from standardized.tasks import job_reaper as standardized_reaper
from tests.faults import insert_job, read_stored_job

STALE_AFTER = 1800.0
STUCK_FOR = timedelta(hours=1)
SWEEP_INTERVAL = 0.05
# Long enough for twenty sweeps: a reaper still running finds a stuck job well within it.
TWENTY_SWEEPS = 20 * SWEEP_INTERVAL
STANDARDIZED_LOGGER = "standardized.tasks.job_reaper"
DETACHED_REFRESH = "is not bound to a Session; attribute refresh operation cannot proceed"
F7_F11 = "the first sweep that reaps a job raises DetachedInstanceError logging it; the reaper task dies with it"


class JobRows:
    """Jobs written straight into the database, deleted when the test ends."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.ids: list[uuid.UUID] = []

    async def insert(self, *, status: JobStatus, idle_for: timedelta) -> uuid.UUID:
        job_id = await insert_job(self.engine, kind="batch", status=status, updated_at=utcnow() - idle_for)
        self.ids.append(job_id)
        return job_id

    async def read(self, job_id: uuid.UUID) -> Job:
        return await read_stored_job(self.engine, job_id)

    async def read_when_finished(self, job_id: uuid.UUID, *, within: float = 3.0) -> Job:
        """The job as stored once it is terminal, or as it is after `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        # The reaper runs in the app and tells nothing but the row: poll the database for it.
        while (job := await self.read(job_id)).status not in TERMINAL_STATUSES and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return job

    async def delete_all(self) -> None:
        async with AsyncSession(self.engine) as session:
            await session.execute(delete(Job).where(Job.id.in_(self.ids)))
            await session.commit()


@pytest.fixture
async def jobs(read_engine: AsyncEngine) -> AsyncIterator[JobRows]:
    rows = JobRows(read_engine)
    yield rows
    await rows.delete_all()


def serving(
    variant: Variant, database_url: URL, settings: Settings, **overrides: float
) -> AbstractAsyncContextManager[RunningApp]:
    """The variant's app, its reaper set to treat a job idle for `STALE_AFTER` seconds as stuck."""
    app_settings = settings.model_copy(update={"stale_after": STALE_AFTER, **overrides})
    return serve_in_process(create_app(variant, database_url=database_url, settings=app_settings))


@pytest.mark.fails_on_legacy(
    "F11", reason="the legacy reaper looks only at processing jobs: a job left pending stays pending"
)
async def test_reaper_fails_jobs_stuck_past_stale_after_and_leaves_the_others_alone(
    variant: Variant, database_url: URL, settings: Settings, jobs: JobRows, caplog: pytest.LogCaptureFixture
) -> None:
    stuck_pending = await jobs.insert(status=JobStatus.pending, idle_for=STUCK_FOR)
    stuck_processing = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)
    fresh = await jobs.insert(status=JobStatus.processing, idle_for=timedelta(0))
    finished_long_ago = await jobs.insert(status=JobStatus.completed, idle_for=STUCK_FOR)

    # The reaper sweeps once at startup (with the test settings, the next sweep is an hour later).
    async with serving(variant, database_url, settings):
        await jobs.read_when_finished(stuck_processing)
        pending, processing = await jobs.read(stuck_pending), await jobs.read(stuck_processing)

    for reaped in (pending, processing):
        assert reaped.status == JobStatus.failed, f"job {reaped.id} stuck in {reaped.status} was not reaped"
        assert reaped.error == "no progress for 1800 s: marked failed by the job reaper"
        assert reaped.end_time is not None
        assert f"job {reaped.id}: no progress for 1800 s, marked failed" in caplog.messages
    assert (await jobs.read(fresh)).status == JobStatus.processing
    assert ((left := await jobs.read(finished_long_ago)).status, left.error) == (JobStatus.completed, None)


@pytest.mark.fails_on_legacy("F7", "F11", reason=F7_F11)
async def test_reaper_keeps_sweeping_and_reaps_a_job_stuck_later(
    variant: Variant, database_url: URL, settings: Settings, jobs: JobRows
) -> None:
    async with serving(variant, database_url, settings, reaper_interval=SWEEP_INTERVAL):
        first = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)
        await jobs.read_when_finished(first)
        later = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)
        reaped_later = await jobs.read_when_finished(later, within=TWENTY_SWEEPS)

    assert (await jobs.read(first)).status == JobStatus.failed
    assert reaped_later.status == JobStatus.failed, "the job stuck after the first sweep was never reaped"


@pytest.mark.standardized
async def test_reaper_logs_a_failing_sweep_and_sweeps_again(
    database_url: URL,
    settings: Settings,
    jobs: JobRows,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sweep = standardized_reaper.reap_stuck_jobs
    outage = ConnectionError("the database is restarting")
    failures = iter([outage])

    async def sweep_failing_once(*, stale_after: float) -> list[uuid.UUID]:
        if (failure := next(failures, None)) is not None:
            raise failure
        return await sweep(stale_after=stale_after)

    monkeypatch.setattr(standardized_reaper, "reap_stuck_jobs", sweep_failing_once)
    stuck = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)
    async with serving("standardized", database_url, settings, reaper_interval=SWEEP_INTERVAL):
        reaped = await jobs.read_when_finished(stuck)

    assert reaped.status == JobStatus.failed
    [logged] = [record for record in caplog.records if record.name == STANDARDIZED_LOGGER and record.exc_info]
    assert logged.getMessage() == f"job reaper: sweep failed, next one in {SWEEP_INTERVAL:g} s"
    assert logged.exc_info is not None and logged.exc_info[1] is outage


def running_reapers(module: ModuleType) -> list[asyncio.Task[None]]:
    """The unfinished tasks running `module.run_job_reaper`."""
    code = module.run_job_reaper.__code__
    return [task for task in asyncio.all_tasks() if getattr(task.get_coro(), "cr_code", None) is code]


@pytest.mark.standardized
async def test_reaper_task_is_cancelled_at_shutdown(database_url: URL, settings: Settings) -> None:
    async with serving("standardized", database_url, settings):
        [reaper] = running_reapers(standardized_reaper)
        assert not reaper.done()

    # Cancelled and awaited before the engine it sweeps with was disposed (R8).
    assert reaper.cancelled()
    assert running_reapers(standardized_reaper) == []


@pytest.mark.standardized
async def test_background_session_used_after_close_raises_instead_of_reconnecting(
    database_url: URL, settings: Settings
) -> None:
    async with bound_engine(database_url, settings):
        async with get_background_session() as session:
            await session.execute(select(1))

        # close_resets_only=False: a closed session cannot quietly start over (F8).
        with pytest.raises(InvalidRequestError) as raised:
            await session.execute(select(1))
        assert get_pool_stats().checked_out == 0

    assert str(raised.value).startswith(
        "This Session has been permanently closed and is unable to handle any more transaction requests"
    )


@pytest.mark.legacy
async def test_legacy_request_session_reconnects_after_close_F8(database_url: URL, settings: Settings) -> None:
    async with bound_engine(database_url, settings):
        # The request session as FastAPI closes it at the end of the dependency's scope: before
        # the background tasks with scope="function" (and on FastAPI 0.106-0.117), after them by default.
        async with asynccontextmanager(get_legacy_request_session)() as session:
            await session.execute(select(1))

        # A task handed that session still gets answers: close() only reset it (close_resets_only=True).
        assert await session.scalar(select(1)) == 1
        # ...on a connection checked out again, which no one returns once the task is done.
        assert get_pool_stats().checked_out == 1
        await session.close()


@pytest.mark.legacy
async def test_legacy_reaper_logs_from_jobs_its_closed_session_detached_F7(
    database_url: URL, settings: Settings, jobs: JobRows
) -> None:
    stuck = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)

    async with bound_engine(database_url, settings):
        with pytest.raises(DetachedInstanceError) as raised:
            await legacy_reaper.reap_stuck_jobs(stale_after=STALE_AFTER)

    message = str(raised.value)
    assert message.startswith("Instance <Job at 0x") and DETACHED_REFRESH in message
    # The commit came first: the job was marked failed before the log line raised.
    reaped = await jobs.read(stuck)
    assert (reaped.status, reaped.error) == (JobStatus.failed, "stuck in processing")


@pytest.mark.legacy
async def test_legacy_reaper_dies_with_its_first_reaped_job_and_never_sweeps_again_F7(
    database_url: URL, settings: Settings, jobs: JobRows, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving("legacy", database_url, settings, reaper_interval=SWEEP_INTERVAL):
        first = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)
        await jobs.read_when_finished(first)
        later = await jobs.insert(status=JobStatus.processing, idle_for=STUCK_FOR)
        never_reaped = await jobs.read_when_finished(later, within=TWENTY_SWEEPS)

    assert (await jobs.read(first)).status == JobStatus.failed
    assert (never_reaped.status, never_reaped.error) == (JobStatus.processing, None)
    # Nothing awaited the task: its exception shows only when the task is collected.
    gc.collect()
    [died] = [
        record for record in caplog.records if record.getMessage().startswith("Task exception was never retrieved")
    ]
    assert died.exc_info is not None
    assert (died.name, type(died.exc_info[1])) == ("asyncio", DetachedInstanceError)
    assert DETACHED_REFRESH in str(died.exc_info[1])
