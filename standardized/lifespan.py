"""What the standardized app runs beside requests: the job reaper, owned by the lifespan.

Shows: a long-running task started at startup with its reference kept, and cancelled
and awaited at shutdown, before the engine it uses is disposed (R5, R8).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playbook.app.settings import Settings
from standardized.tasks.job_reaper import run_job_reaper


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[None]:
    reaper = asyncio.create_task(run_job_reaper(interval=settings.reaper_interval, stale_after=settings.stale_after))
    try:
        yield
    finally:
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)
