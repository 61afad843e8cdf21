"""The same standardized jobs on procrastinate workers (`make worker`), and their recovery on the engine.

Shows: one procrastinate task that runs a job (or a part of a batch) through the same job
functions as background mode, by id, from the stored row, under `JOB_TIME_LIMIT`
(procrastinate has no time limit of its own); workers whose heartbeat every
`HEARTBEAT_INTERVAL` seconds tells they are alive; a periodic task, every 2 seconds,
that puts back in the queue the jobs of workers silent for `DEAD_AFTER` seconds, guarded by
a `queueing_lock` (a `lock` would let the retry task itself stall with its worker, and
never run again), and fails a job that had `MAX_ATTEMPTS` runs; the retry task on a
queue of its own with a worker of its own, so busy job slots never delay it. At SIGTERM
no job is taken any more; running ones get `SHUTDOWN_GRACE` seconds, then are cancelled
(marked `interrupted`) and handed back to the queue. The worker's engine is created on
its loop and disposed at exit (R8); a worker that loses the database starts again.
Does not guarantee: that a job runs once; a worker judged dead while it still runs
(its event loop blocked past `DEAD_AFTER`) runs on beside the retry. The job functions'
idempotent writes (R7) keep the outcome right.
"""

import asyncio
import logging
import signal
import uuid

import procrastinate
from procrastinate.jobs import Job as QueueJob
from procrastinate.jobs import Status
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy.engine import URL

from playbook.app.database import get_bound_settings
from playbook.app.errors import describe_failure
from playbook.app.factory import bound_resources
from playbook.app.settings import Settings
from standardized.db import is_transient
from standardized.job_functions import Part, run_stored_job
from standardized.jobs import fail_job
from standardized.recovery import beat_and_sweep, current_instance_id, keep_alive, registered_instance

logger = logging.getLogger(__name__)

QUEUE_NAME = "jobs"
MAINTENANCE_QUEUE = "maintenance"
RETRY_STALLED_EVERY_2_SECONDS = "* * * * * */2"  # croniter: the sixth field is seconds
POLL_INTERVAL = 1.0  # seconds between looks at the queue when no notification came
RESTART_DELAY = 1.0
DB_LOST_RETRY_DELAY = 5  # seconds before a run that lost the database is tried again

# The connector is set when a worker starts (`run_worker`); defining tasks needs none.
queue_app = procrastinate.App(connector=procrastinate.PsycopgConnector())


class RunAgainIfWorthIt(BaseRetryStrategy):
    """A run cancelled by its worker's shutdown goes back to the queue at once; one that lost the
    database, after `DB_LOST_RETRY_DELAY` seconds while it has runs left (`MAX_ATTEMPTS`); any other end is final."""

    def get_retry_decision(self, *, exception: BaseException, job: QueueJob) -> RetryDecision | None:
        if isinstance(exception, asyncio.CancelledError):
            return RetryDecision(retry_in={"seconds": 0})
        # `attempts` counts the earlier runs: the one that just ended is run `attempts + 1`.
        if is_transient(exception) and job.attempts + 1 < get_bound_settings().max_attempts:
            return RetryDecision(retry_in={"seconds": DB_LOST_RETRY_DELAY})
        return None


RUN_AGAIN_IF_WORTH_IT = RunAgainIfWorthIt()


@queue_app.task(name="run_job_part", queue=QUEUE_NAME, retry=RUN_AGAIN_IF_WORTH_IT, pass_context=True)
async def run_job_part(context: procrastinate.JobContext, job_id: str, part: int, parts: int) -> None:
    """Run part `part` of `parts` of job `job_id` (a whole job is part 0 of 1)."""
    try:
        await run_stored_job(uuid.UUID(job_id), part=Part(part, parts), instance_id=current_instance_id())
    except Exception as exc:
        # What escaped the job's own error handling (its claim, its stored params, a write that
        # outlasted the database retries) ends the queue entry; on its last run, the job too.
        if RUN_AGAIN_IF_WORTH_IT.get_retry_decision(exception=exc, job=context.job) is None:
            logger.exception("job %s: part %d/%d failed outside the job's own handling", job_id, part + 1, parts)
            await fail_job(job_id=uuid.UUID(job_id), error=describe_failure(exc))
        raise


@queue_app.periodic(cron=RETRY_STALLED_EVERY_2_SECONDS, periodic_id="retry_stalled_jobs")
@queue_app.task(
    name="retry_stalled_jobs", queue=MAINTENANCE_QUEUE, queueing_lock="retry_stalled_jobs", pass_context=True
)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Queue again the jobs of workers silent for `DEAD_AFTER` seconds; fail those out of runs."""
    settings = get_bound_settings()
    manager = context.app.job_manager
    for stalled in await manager.get_stalled_jobs(seconds_since_heartbeat=settings.dead_after):
        # `attempts` counts the earlier runs: this one is run `attempts + 1`.
        if stalled.attempts + 1 < settings.max_attempts:
            logger.warning("queue job %s (%s): its worker is gone, queued again", stalled.id, stalled.call_string)
            await manager.retry_job(stalled)
            continue
        logger.error("queue job %s (%s): stalled in each of its runs, failed", stalled.id, stalled.call_string)
        assert stalled.id is not None
        await manager.finish_job_by_id_async(stalled.id, status=Status.FAILED, delete_job=False)
        if stalled.task_name == run_job_part.name:
            await fail_job(
                job_id=uuid.UUID(str(stalled.task_kwargs["job_id"])),
                error=f"its worker stopped in each of its {settings.max_attempts} runs: no more are made",
            )


def queue_connector(database_url: URL, settings: Settings) -> procrastinate.PsycopgConnector:
    """procrastinate's psycopg pool on the same database as the app's asyncpg engine."""
    conninfo = database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    # A listener, a heartbeat, fetches and status writes for each of the two workers.
    return procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=settings.worker_concurrency + 6)


async def run_worker(database_url: URL, settings: Settings) -> None:
    """`make worker`: run jobs until SIGTERM or SIGINT, then shut down within the grace period."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with bound_resources(database_url, settings), registered_instance(role="worker") as me:
        await beat_and_sweep(me=me, settings=settings, running_here=frozenset(), adopt=None)
        heartbeat = asyncio.create_task(keep_alive(me=me, settings=settings, running_here=frozenset, adopt=None))
        try:
            with queue_app.replace_connector(queue_connector(database_url, settings)):
                async with queue_app.open_async():
                    workers = [
                        asyncio.create_task(
                            _keep_working(settings, queue=QUEUE_NAME, concurrency=settings.worker_concurrency)
                        ),
                        asyncio.create_task(_keep_working(settings, queue=MAINTENANCE_QUEUE, concurrency=1)),
                    ]
                    logger.info(
                        "worker %s: running %d jobs at once; stop with SIGTERM", me.id, settings.worker_concurrency
                    )
                    await stop.wait()
                    logger.info("worker %s: stopping, running jobs get %g s", me.id, settings.shutdown_grace)
                    # Cancelling a procrastinate worker is its graceful shutdown: no new job, then the grace period.
                    for worker in workers:
                        worker.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
        finally:
            # Stopped before the engine is disposed, whatever ended the block: no beat on a closed pool.
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)


async def _keep_working(settings: Settings, *, queue: str, concurrency: int) -> None:
    """One procrastinate worker on `queue`, started again whenever it stops on its own (the database went away)."""
    while True:
        try:
            await queue_app.run_worker_async(
                name=queue,
                queues=[queue],
                concurrency=concurrency,
                install_signal_handlers=False,
                shutdown_graceful_timeout=settings.shutdown_grace,
                update_heartbeat_interval=settings.heartbeat_interval,
                stalled_worker_timeout=settings.dead_after,
                fetch_job_polling_interval=POLL_INTERVAL,
                delete_jobs="successful",
            )
            logger.warning("worker on queue %s stopped; starting again in %g s", queue, RESTART_DELAY)
        except Exception:
            logger.exception("worker on queue %s failed; starting again in %g s", queue, RESTART_DELAY)
        await asyncio.sleep(RESTART_DELAY)
