"""The jobs this process runs in background mode, owned by the lifespan.

Shows: one task per job, kept until it ends (a task nothing references can be collected,
and its exception lost); a job handed over twice (by its request and by a recovery sweep)
runs once; at shutdown no job is taken any more, the running ones get `SHUTDOWN_GRACE`
seconds to finish, then are cancelled, which `run_job` records as `interrupted`, for the
next process to resume (R5).
Does not guarantee: anything once the process is killed outright; the recovery sweep of
another process (or of this one, restarted) resumes those jobs (`standardized.recovery`).
"""

import asyncio
import functools
import logging
import uuid
from collections.abc import Iterable

from standardized.job_functions import run_stored_job

logger = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, *, instance_id: uuid.UUID, grace: float) -> None:
        self._instance_id = instance_id
        self._grace = grace
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._accepting = True
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> frozenset[uuid.UUID]:
        return frozenset(self._tasks)

    @property
    def idle(self) -> bool:
        return not self._tasks

    async def wait_idle(self) -> None:
        """Until no job runs here; the caller bounds the wait."""
        await self._idle.wait()

    def start(self, job_ids: Iterable[uuid.UUID]) -> None:
        """Run each job unless it already runs here; after `stop` began, leave it for the next process."""
        for job_id in job_ids:
            if not self._accepting:
                logger.info("job %s: not started, this process is shutting down", job_id)
            elif job_id not in self._tasks:
                task = asyncio.create_task(run_stored_job(job_id, instance_id=self._instance_id), name=f"job {job_id}")
                self._tasks[job_id] = task
                self._idle.clear()
                task.add_done_callback(functools.partial(self._forget, job_id))

    def _forget(self, job_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        del self._tasks[job_id]
        if not self._tasks:
            self._idle.set()
        if not task.cancelled() and (exc := task.exception()) is not None:
            # `run_job` records every failure on the job; this is one it could not write (the database was away).
            logger.error("job %s: ended without its status written", job_id, exc_info=exc)

    async def stop(self) -> None:
        """Take no new job, give the running ones the grace period, then cancel them and wait."""
        self._accepting = False
        if not self._tasks:
            return
        logger.info("waiting up to %g s for %d running job(s)", self._grace, len(self._tasks))
        _, late = await asyncio.wait(self._tasks.values(), timeout=self._grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
