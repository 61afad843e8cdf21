"""The endpoints that start background work (the HTTP contract: docs/contract.md).

Each one validates the body, commits a pending job owned by the caller's API key, and
hands the task what was at hand: the ORM object, the request's session, or just the id.
"""

from fastapi import APIRouter, BackgroundTasks, status

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
from playbook.app.models import JobKind
from playbook.app.schemas import (
    BatchRequest,
    EmailScanRequest,
    JobOut,
    PlacesSearchRequest,
    SitemapBatchRequest,
    SitemapScanRequest,
)

router = APIRouter(prefix="/api/v3")


@router.post("/batches", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def create_batch(
    body: BatchRequest, background_tasks: BackgroundTasks, session: SessionDep, owner: OwnerDep
) -> JobOut:
    batch, accepted = await create_job(session, owner, JobKind.batch, total_items=len(body.items), params={})
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
