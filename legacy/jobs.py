"""Job status helpers as the services had them: ORM objects changed in place.

Shows: status kept on a loaded `Job` and committed on whatever session the caller has.
Does not guarantee: that the object is still loaded (F2), that a JSON column changed in
place is written (R9), or that a job ends terminal when something raises (F11).
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import Job, JobStatus, utcnow
from playbook.app.schemas import JobOut


async def create_job(
    session: AsyncSession, owner: str, kind: str, total_items: int, params: dict[str, Any]
) -> tuple[Job, JobOut]:
    """Insert a pending job of `owner`; return it with the response body read before the commit."""
    job = Job(owner=owner, kind=kind, total_items=total_items, params=params)
    session.add(job)
    await session.flush()
    accepted = JobOut.model_validate(job)
    # Commit before scheduling, so the task finds the row.
    await session.commit()
    return job, accepted


async def start_job(job: Job, session: AsyncSession) -> None:
    job.status = JobStatus.processing
    job.start_time = utcnow()
    await session.commit()


def record_item(job: Job, item: str, error: str | None) -> None:
    if error is None:
        job.completed_count += 1
        job.item_results[item] = "completed"
    else:
        job.failed_count += 1
        job.item_results[item] = f"failed: {error}"
        job.error = f"Error processing item {item}: {error}"


async def finish_job(job: Job, session: AsyncSession) -> None:
    job.status = JobStatus.completed if job.failed_count == 0 else JobStatus.partial
    job.end_time = utcnow()
    await session.commit()
