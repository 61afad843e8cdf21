"""What the standardized app runs beside requests, owned by the lifespan: its executor, the
heartbeat and recovery sweep of this process, and the job reaper.

Shows: long-running tasks started at startup with their references kept, and stopped in
order at shutdown, before the engine they use is disposed (R5, R8): first the sweep (no
job is taken over any more), then the executor (running jobs get the grace period, then
are cancelled and marked `interrupted`), then the reaper; leaving, the process marks
what it still owned interrupted, for the next process to resume at once.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import Job
from playbook.app.settings import Settings
from standardized.executor import Executor, build_executor
from standardized.recovery import beat_and_sweep, keep_alive, registered_instance
from standardized.tasks.job_reaper import run_job_reaper


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[Executor]:
    async with registered_instance(role="app") as me:
        executor = build_executor(
            name=settings.executor, instance_id=me.id, grace=settings.shutdown_grace, part_size=settings.batch_part_size
        )

        async def adopt(session: AsyncSession, jobs: Sequence[Job]) -> Callable[[], Awaitable[None]]:
            # Jobs taken over are queued the way this process queues new ones, in the sweep's transaction.
            await executor.enqueue(session=session, jobs=jobs)
            job_ids = [job.id for job in jobs]
            return lambda: executor.start(job_ids)

        # The first sweep before any request: jobs of processes that are gone start now, not a beat later.
        await beat_and_sweep(me=me, settings=settings, running_here=executor.running(), adopt=adopt)
        sweep = asyncio.create_task(keep_alive(me=me, settings=settings, running_here=executor.running, adopt=adopt))
        reaper = asyncio.create_task(
            run_job_reaper(interval=settings.reaper_interval, stale_after=settings.stale_after)
        )
        try:
            yield executor
        finally:
            sweep.cancel()
            await asyncio.gather(sweep, return_exceptions=True)
            await executor.stop()
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)
