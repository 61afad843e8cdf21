"""Recovery in background mode: the sweep that resumes the jobs of dead processes, and only theirs.

Processes other than the app under test are written straight into `instances`: one whose
heartbeat stopped an hour ago (dead), one that shut down (its row gone), one kept beating
by the test (alive). Their jobs are written the way such a process leaves them. Every
row a test wrote is deleted at its end, so no later app takes its jobs over.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.factory import create_app
from playbook.app.models import BatchItem, Instance, Job, JobStatus, utcnow
from playbook.app.settings import Settings
from playbook.harness.server import serve_in_process
from tests.faults import done_at_least, finished, insert_job, read_stored_job, stored_titles, wait_for_job

pytestmark = pytest.mark.standardized

HEARTBEAT = 0.05
DEAD_AFTER = 0.5
# Long enough for twenty sweeps of the recovery loop and of the reaper.
TWENTY_SWEEPS = 20 * HEARTBEAT
ITEMS = ["alpha.test", "beta.test", "gamma.test"]


class OtherProcesses:
    """Instances and their jobs written straight into the database, deleted when the test ends."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.instances: list[uuid.UUID] = []
        self.jobs: list[uuid.UUID] = []

    async def instance(self, *, silent_for: timedelta) -> uuid.UUID:
        instance_id = uuid.uuid4()
        async with AsyncSession(self.engine) as session:
            session.add(
                Instance(id=instance_id, role="app", hostname="elsewhere", pid=1, heartbeat_at=utcnow() - silent_for)
            )
            await session.commit()
        self.instances.append(instance_id)
        return instance_id

    async def beat(self, instance_id: uuid.UUID) -> None:
        async with AsyncSession(self.engine) as session:
            await session.execute(update(Instance).where(Instance.id == instance_id).values(heartbeat_at=func.now()))
            await session.commit()

    @asynccontextmanager
    async def beating(self, instance_id: uuid.UUID) -> AsyncIterator[None]:
        """`instance_id` beats every `HEARTBEAT` from now until the block ends, as a live process does."""
        stopped = asyncio.Event()

        async def beat_until_stopped() -> None:
            while not stopped.is_set():
                await self.beat(instance_id)
                with suppress(TimeoutError):
                    async with asyncio.timeout(HEARTBEAT):
                        await stopped.wait()

        beats = asyncio.create_task(beat_until_stopped())
        try:
            yield
        finally:
            stopped.set()
            await beats  # raises what stopped the beats early, if anything did

    async def batch_job(
        self, *, owner: uuid.UUID, attempts: int = 1, recorded: tuple[str, ...] = (), idle_for: timedelta = timedelta(0)
    ) -> uuid.UUID:
        """A batch of `ITEMS` that `owner` was running, with `recorded` items already stored."""
        job_id = await insert_job(
            self.engine,
            kind="batch",
            status=JobStatus.processing,
            params={"items": ITEMS},
            total_items=len(ITEMS),
            completed_count=len(recorded),
            item_results=dict.fromkeys(recorded, "completed"),
            instance_id=owner,
            attempts=attempts,
            updated_at=utcnow() - idle_for,
            item_rows=[BatchItem(domain=item, status="completed", title="stored before") for item in recorded],
        )
        self.jobs.append(job_id)
        return job_id

    async def delete_all(self) -> None:
        async with AsyncSession(self.engine) as session:
            await session.execute(delete(Job).where(Job.id.in_(self.jobs)))
            await session.execute(delete(Instance).where(Instance.id.in_(self.instances)))
            await session.commit()


@pytest.fixture
async def others(read_engine: AsyncEngine) -> AsyncIterator[OtherProcesses]:
    rows = OtherProcesses(read_engine)
    yield rows
    await rows.delete_all()


@pytest.fixture
def recovery_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"heartbeat_interval": HEARTBEAT, "dead_after": DEAD_AFTER, "shutdown_grace": 0.1, "max_attempts": 3}
    )


async def test_job_of_a_dead_process_is_resumed_and_runs_only_what_is_missing(
    database_url: URL, recovery_settings: Settings, others: OtherProcesses
) -> None:
    dead = await others.instance(silent_for=timedelta(hours=1))
    job_id = await others.batch_job(owner=dead, recorded=("alpha.test",))

    async with serve_in_process(
        create_app("standardized", database_url=database_url, settings=recovery_settings)
    ) as app:
        job = await wait_for_job(others.engine, job_id, finished)
        taken_over_by = app.jobs.instance_id  # type: ignore[union-attr]

    assert (job.status, job.completed_count, job.failed_count) == ("completed", 3, 0)
    assert (job.instance_id, job.attempts) == (taken_over_by, 2)
    assert job.item_results == dict.fromkeys(ITEMS, "completed")
    assert await stored_titles(others.engine, job_id) == [
        ("alpha.test", "stored before"),
        ("beta.test", "Home of beta.test"),
        ("gamma.test", "Home of gamma.test"),
    ]


async def test_job_of_a_process_that_shut_down_is_resumed(
    database_url: URL, recovery_settings: Settings, others: OtherProcesses
) -> None:
    # Its row is gone: it left cleanly, after marking what it still owned interrupted.
    job_id = await others.batch_job(owner=uuid.uuid4())

    async with serve_in_process(create_app("standardized", database_url=database_url, settings=recovery_settings)):
        job = await wait_for_job(others.engine, job_id, finished)

    assert (job.status, job.completed_count, job.attempts) == ("completed", 3, 2)


async def test_job_of_a_live_process_is_never_touched(
    database_url: URL, recovery_settings: Settings, others: OtherProcesses
) -> None:
    alive = await others.instance(silent_for=timedelta(0))
    # Idle far longer than `stale_after`: the reaper would fail it, were it unclaimed.
    job_id = await others.batch_job(owner=alive, idle_for=timedelta(hours=1))
    reaping = recovery_settings.model_copy(update={"stale_after": 1.0, "reaper_interval": HEARTBEAT})

    # Beating from before the app starts: however long its start-up takes, every sweep it
    # makes, during start-up too, sees a process that beat less than `DEAD_AFTER` ago.
    async with (
        others.beating(alive),
        serve_in_process(create_app("standardized", database_url=database_url, settings=reaping)),
    ):
        await asyncio.sleep(TWENTY_SWEEPS)
        job = await read_stored_job(others.engine, job_id)

    assert (job.status, job.instance_id, job.attempts, job.error) == ("processing", alive, 1, None)


async def test_job_that_ran_max_attempts_times_is_failed_with_the_reason(
    database_url: URL, recovery_settings: Settings, others: OtherProcesses
) -> None:
    dead = await others.instance(silent_for=timedelta(hours=1))
    job_id = await others.batch_job(owner=dead, attempts=3)

    async with serve_in_process(create_app("standardized", database_url=database_url, settings=recovery_settings)):
        job = await wait_for_job(others.engine, job_id, finished)

    assert (job.status, job.attempts, job.completed_count) == ("failed", 3, 0)
    assert job.error == "stopped unfinished in each of its 3 runs: no more are made"
    assert job.end_time is not None


async def test_shutdown_interrupts_running_jobs_after_the_grace_period_and_the_next_app_resumes_them(
    database_url: URL, recovery_settings: Settings, others: OtherProcesses, read_engine: AsyncEngine
) -> None:
    slow = recovery_settings.model_copy(update={"upstream_latency_ms": 200, "upstream_timeout": 10.0})
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=slow)) as app:
        response = await app.client.post("/api/v3/batches", json={"items": [f"site-{n}.test" for n in range(20)]})
        job_id = uuid.UUID(response.json()["id"])
        others.jobs.append(job_id)
        # The job's row is the only sign it made progress: poll the database for it.
        await wait_for_job(read_engine, job_id, done_at_least(1))
    # The app has stopped: its job was cancelled after the grace period, never left processing.
    interrupted = await read_stored_job(read_engine, job_id)

    async with serve_in_process(create_app("standardized", database_url=database_url, settings=recovery_settings)):
        job = await wait_for_job(others.engine, job_id, finished)

    assert (interrupted.status, interrupted.error, interrupted.end_time) == ("interrupted", None, None)
    assert 0 < interrupted.completed_count < 20
    assert (job.status, job.completed_count, job.failed_count, job.attempts) == ("completed", 20, 0, 2)
    assert len(await stored_titles(others.engine, job_id)) == 20
