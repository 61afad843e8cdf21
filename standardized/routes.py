"""The endpoints that start background work (the HTTP contract: docs/contract.md).

Each one validates the body, adds a pending job owned by the caller's API key, and hands
it to the executor, which queues it in the same transaction and commits: the job and its
queue entry exist together or not at all. Whoever runs it gets the job's id and reads the plain data it
stored, never the session or an ORM object (R1). A failed or partial job can be retried:
its failed and unprocessed items run again.
"""

import uuid
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, status

from playbook.app.auth import OwnerDep
from playbook.app.models import Job, JobKind
from playbook.app.schemas import (
    BatchRequest,
    EmailScanRequest,
    JobOut,
    PlacesSearchRequest,
    SitemapBatchRequest,
    SitemapScanRequest,
)
from standardized.db import SessionDep
from standardized.executor import ExecutorDep, submit
from standardized.jobs import NotRetryable, create_job, reopen_for_retry

router = APIRouter(prefix="/api/v3")
RETRY_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job, or not one of this API key's"},
    409: {"description": "The job is not failed or partial"},
}


@router.post("/batches", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def create_batch(
    body: BatchRequest, background_tasks: BackgroundTasks, session: SessionDep, executor: ExecutorDep, owner: OwnerDep
) -> Job:
    # The items are stored with the job: whoever runs it, now or after a crash, reads them there.
    batch = await create_job(
        session=session, owner=owner, kind=JobKind.batch, total_items=len(body.items), params={"items": body.items}
    )
    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[batch])
    return batch


@router.post("/sitemap/scan", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_sitemap(
    body: SitemapScanRequest,
    background_tasks: BackgroundTasks,
    session: SessionDep,
    executor: ExecutorDep,
    owner: OwnerDep,
) -> Job:
    job = await create_job(
        session=session, owner=owner, kind=JobKind.sitemap_scan, total_items=1, params={"domain": body.domain}
    )
    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[job])
    return job


@router.post("/sitemap/batch", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_sitemaps(
    body: SitemapBatchRequest,
    background_tasks: BackgroundTasks,
    session: SessionDep,
    executor: ExecutorDep,
    owner: OwnerDep,
) -> Job:
    job = await create_job(
        session=session,
        owner=owner,
        kind=JobKind.sitemap_batch,
        total_items=len(body.domains),
        params={"domains": body.domains},
    )
    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[job])
    return job


@router.post("/places/search", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def search_places(
    body: PlacesSearchRequest,
    background_tasks: BackgroundTasks,
    session: SessionDep,
    executor: ExecutorDep,
    owner: OwnerDep,
) -> Job:
    job = await create_job(
        session=session, owner=owner, kind=JobKind.places_search, total_items=0, params=body.model_dump()
    )
    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[job])
    return job


@router.post("/email-scraper/scan", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_emails(
    body: EmailScanRequest,
    background_tasks: BackgroundTasks,
    session: SessionDep,
    executor: ExecutorDep,
    owner: OwnerDep,
) -> Job:
    job = await create_job(
        session=session, owner=owner, kind=JobKind.email_scan, total_items=0, params={"domain": body.domain}
    )
    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[job])
    return job


@router.post(
    "/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut, responses=RETRY_ANSWERS
)
async def retry_job(
    job_id: uuid.UUID, background_tasks: BackgroundTasks, session: SessionDep, executor: ExecutorDep, owner: OwnerDep
) -> Job:
    # One atomic UPDATE reopens the job only if it is failed or partial: two retries at once reopen it once.
    try:
        job = await reopen_for_retry(session=session, job_id=job_id, owner=owner)
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except NotRetryable as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[job])
    return job
