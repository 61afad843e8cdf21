"""The endpoints that start background work (the HTTP contract: docs/contract.md).

Each one validates the body, commits a pending job owned by the caller's API key, and
hands the task what was at hand: the ORM object, the request's session, or just the id.
The retry endpoint loads the job, reopens it and hands the batch job and session over the
same way, so a retried batch dies as a new one does (F2), and stays `pending` (F11).
"""

import uuid
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, status

from legacy.db import SessionDep
from legacy.jobs import create_job
from legacy.services.batch.batch_functions import process_batch_with_own_session
from legacy.services.places.places_search_service import (
    process_places_search_background,
)
from legacy.services.sitemap.background_service import (
    process_batch_background,
    process_domain_background,
)
from legacy.tasks.email_scraper import scrape_emails_task
from playbook.app.auth import OwnerDep
from playbook.app.models import Job, JobKind, JobStatus
from playbook.app.schemas import (
    BatchRequest,
    EmailScanRequest,
    JobOut,
    PlacesSearchRequest,
    SitemapBatchRequest,
    SitemapScanRequest,
)

router = APIRouter(prefix="/api/v3")
RETRY_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job, or not one of this API key's"},
    409: {"description": "The job is not failed or partial"},
}


@router.post("/batches", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def create_batch(
    body: BatchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    batch, accepted = await create_job(
        session, owner, JobKind.batch, total_items=len(body.items), params={"items": body.items}
    )
    background_tasks.add_task(process_batch_with_own_session, batch, body.items, session)
    return accepted


@router.post("/sitemap/scan", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_sitemap(
    body: SitemapScanRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    _, accepted = await create_job(session, owner, JobKind.sitemap_scan, total_items=1, params={"domain": body.domain})
    background_tasks.add_task(process_domain_background, accepted.id, body.domain)
    return accepted


@router.post("/sitemap/batch", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_sitemaps(
    body: SitemapBatchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    _, accepted = await create_job(
        session, owner, JobKind.sitemap_batch, total_items=len(body.domains), params={"domains": body.domains}
    )
    background_tasks.add_task(process_batch_background, accepted.id, body.domains)
    return accepted


@router.post("/places/search", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def search_places(
    body: PlacesSearchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    _, accepted = await create_job(session, owner, JobKind.places_search, total_items=0, params=body.model_dump())
    background_tasks.add_task(process_places_search_background, accepted.id, body.query, body.location)
    return accepted


@router.post("/email-scraper/scan", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_emails(
    body: EmailScanRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    _, accepted = await create_job(session, owner, JobKind.email_scan, total_items=0, params={"domain": body.domain})
    background_tasks.add_task(scrape_emails_task, accepted.id, body.domain, session)
    return accepted


@router.post(
    "/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut, responses=RETRY_ANSWERS
)
async def retry_job(
    job_id: uuid.UUID, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    job = await session.get(Job, job_id)
    if job is None or job.owner != owner:
        raise HTTPException(status_code=404, detail=f"job {job_id} not found")
    if job.status not in (JobStatus.failed, JobStatus.partial):
        raise HTTPException(
            status_code=409, detail=f"job {job_id} is {job.status}: only a failed or partial job can be retried"
        )
    job.status, job.error, job.end_time = JobStatus.pending, None, None
    kind, params = job.kind, job.params
    await session.flush()
    accepted = JobOut.model_validate(job)
    await session.commit()
    if kind == JobKind.batch:
        background_tasks.add_task(process_batch_with_own_session, job, params["items"], session)
    elif kind == JobKind.sitemap_scan:
        background_tasks.add_task(process_domain_background, job_id, params["domain"])
    elif kind == JobKind.sitemap_batch:
        background_tasks.add_task(process_batch_background, job_id, params["domains"])
    elif kind == JobKind.places_search:
        background_tasks.add_task(process_places_search_background, job_id, params["query"], params["location"])
    else:
        background_tasks.add_task(scrape_emails_task, job_id, params["domain"], session)
    return accepted
