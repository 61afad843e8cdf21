"""The standardized job functions, run from what the job row stores, whoever runs them.

Shows: one table from a job's kind to its service entry point, with the arguments taken
from the job's stored `params`, so a job can be run again from its row alone: after a
crash, on a retry, or by a procrastinate worker in another process. `run_stored_job`
claims the job for this process, counts the run, and runs it under `JOB_TIME_LIMIT`: a
job hung on a live process is failed with the reason, never left running unseen. A batch
can be shared out in parts, each the same function over a slice of the items.
Does not guarantee: that two processes never run one job at once; the services' writes
are idempotent (R7), so the outcome is the same when they do.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, assert_never

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import get_bound_settings
from playbook.app.models import UNFINISHED_STATUSES, Job, JobKind
from standardized.db import run_in_transaction
from standardized.jobs import fail_job
from standardized.services.batch.batch_functions import process_batch_with_own_session
from standardized.services.places.places_search_service import process_places_search_background
from standardized.services.sitemap.background_service import process_batch_background, process_domain_background
from standardized.tasks.email_scraper import scrape_emails_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """Part `index` of `count`: every `count`-th item from the `index`-th on."""

    index: int = 0
    count: int = 1

    def of(self, items: list[str]) -> list[str]:
        return items[self.index :: self.count]


WHOLE = Part()


async def run_job_function(kind: JobKind, job_id: uuid.UUID, params: dict[str, Any], part: Part) -> None:
    """The service entry point for `kind`, with its arguments taken from the stored `params`."""
    # Exhaustive: mypy fails the build when a kind is added without its job function here.
    match kind:
        case JobKind.batch:
            await process_batch_with_own_session(job_id, part.of(params["items"]))
        case JobKind.sitemap_scan:
            await process_domain_background(job_id, params["domain"])
        case JobKind.sitemap_batch:
            await process_batch_background(job_id, params["domains"])
        case JobKind.places_search:
            await process_places_search_background(job_id, params["query"], params["location"])
        case JobKind.email_scan:
            await scrape_emails_task(job_id, params["domain"])
        case _:
            assert_never(kind)


def parts_of(job: Job, *, part_size: int) -> list[Part]:
    """The parts a job is queued as: a batch in parts of `part_size` items, any other job whole."""
    if job.kind != JobKind.batch:
        return [WHOLE]
    count = max(1, -(-len(job.params["items"]) // part_size))
    return [Part(index, count) for index in range(count)]


async def run_stored_job(job_id: uuid.UUID, *, part: Part = WHOLE, instance_id: uuid.UUID | None = None) -> None:
    """Run (a part of) job `job_id` from its stored kind and params, unless it is finished."""
    stored = await run_in_transaction(lambda session: _claim(session=session, job_id=job_id, instance_id=instance_id))
    if stored is None:
        logger.info("job %s: finished or gone, nothing to run", job_id)
        return
    kind, params = JobKind(stored[0]), stored[1]
    time_limit = get_bound_settings().job_time_limit
    try:
        # No engine has a time limit of its own: a job hung on a live process is caught here.
        async with asyncio.timeout(time_limit):
            await run_job_function(kind, job_id, params, part)
    except TimeoutError:
        logger.error("job %s: still running after its time limit of %g s", job_id, time_limit)
        await fail_job(job_id=job_id, error=f"time limit of {time_limit:g} s exceeded")


async def _claim(
    *, session: AsyncSession, job_id: uuid.UUID, instance_id: uuid.UUID | None
) -> tuple[str, dict[str, Any]] | None:
    # The job records which process runs it, and one more run; a finished job is not run again.
    claimed = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(UNFINISHED_STATUSES))
        .values(instance_id=instance_id, attempts=Job.attempts + 1)
        .returning(Job.kind, Job.params)
    )
    row = claimed.one_or_none()
    return None if row is None else (row.kind, row.params)
