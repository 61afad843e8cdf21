"""What the legacy app runs beside requests: the job reaper, started and forgotten.

Shows: `asyncio.create_task` at startup with no reference kept and no cancellation at
shutdown. If a sweep raises, the task ends and nothing but a "Task exception was never
retrieved" log line (at garbage collection) tells; stuck jobs stay stuck (F11).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from legacy.tasks.job_reaper import run_job_reaper
from playbook.app.settings import Settings


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[None]:
    asyncio.create_task(run_job_reaper(interval=settings.reaper_interval, stale_after=settings.stale_after))
    yield
