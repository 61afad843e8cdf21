"""The endpoints that start background work (the HTTP contract: docs/contract.md).

Each one validates the body, commits a pending job owned by the caller's API key, and
hands the task the job's id and plain data, never the session or an ORM object (R1).
"""

from fastapi import APIRouter, BackgroundTasks, status

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
from standardized.jobs import create_job
from standardized.services.batch.batch_functions import process_batch_with_own_session
from standardized.services.places.places_search_service import (
    process_places_search_background,
)
from standardized.services.sitemap.background_service import (
    process_batch_background,
    process_domain_background,
)
from standardized.tasks.email_scraper import scrape_emails_task

router = APIRouter(prefix="/api/v3")


@router.post("/batches", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def create_batch(
    body: BatchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> Job:
    batch = await create_job(session=session, owner=owner, kind=JobKind.batch, total_items=len(body.items), params={})
    background_tasks.add_task(process_batch_with_own_session, batch.id, body.items)
    return batch


@router.post("/sitemap/scan", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_sitemap(
    body: SitemapScanRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> Job:
    job = await create_job(
        session=session, owner=owner, kind=JobKind.sitemap_scan, total_items=1, params={"domain": body.domain}
    )
    background_tasks.add_task(process_domain_background, job.id, body.domain)
    return job


@router.post("/sitemap/batch", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_sitemaps(
    body: SitemapBatchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> Job:
    job = await create_job(
        session=session,
        owner=owner,
        kind=JobKind.sitemap_batch,
        total_items=len(body.domains),
        params={"domains": body.domains},
    )
    background_tasks.add_task(process_batch_background, job.id, body.domains)
    return job


@router.post("/places/search", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def search_places(
    body: PlacesSearchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> Job:
    job = await create_job(
        session=session, owner=owner, kind=JobKind.places_search, total_items=0, params=body.model_dump()
    )
    background_tasks.add_task(process_places_search_background, job.id, body.query, body.location)
    return job


@router.post("/email-scraper/scan", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def scan_emails(
    body: EmailScanRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> Job:
    job = await create_job(
        session=session, owner=owner, kind=JobKind.email_scan, total_items=0, params={"domain": body.domain}
    )
    background_tasks.add_task(scrape_emails_task, job.id, body.domain)
    return job
