"""Endpoints both variants serve unchanged: reading jobs back, and health.

Every read opens its own session, so what a client sees is what the database holds,
never an object left in some task's memory.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, assert_never

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from playbook.app.database import get_engine
from playbook.app.models import (
    BatchItem,
    Contact,
    Job,
    JobKind,
    JobPlace,
    Place,
    SitemapFile,
    SitemapUrl,
)
from playbook.app.schemas import (
    BatchResults,
    EmailResults,
    Health,
    JobOut,
    JobResults,
    PlacesResults,
    SitemapFileOut,
    SitemapResults,
)

router = APIRouter()


async def get_read_session() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def _job_or_404(session: AsyncSession, job_id: uuid.UUID) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} not found")
    return job


@router.get("/api/v3/jobs/{job_id}", response_model=JobOut, responses={404: {"description": "No such job"}})
async def read_job(job_id: uuid.UUID, session: ReadSessionDep) -> Job:
    return await _job_or_404(session, job_id)


@router.get("/api/v3/jobs/{job_id}/results", response_model=JobResults, responses={404: {"description": "No such job"}})
async def read_job_results(job_id: uuid.UUID, session: ReadSessionDep) -> JobResults:
    job = await _job_or_404(session, job_id)
    kind = _known_kind(job)
    # Exhaustive: mypy fails the build when a kind is added without a reader here.
    match kind:
        case JobKind.batch:
            return await _batch_results(session, job)
        case JobKind.sitemap_scan | JobKind.sitemap_batch:
            return await _sitemap_results(session, job)
        case JobKind.places_search:
            return await _places_results(session, job)
        case JobKind.email_scan:
            return await _email_results(session, job)
        case _:
            assert_never(kind)


class UnknownJobKindError(LookupError):
    """A stored job has a kind this version has no results for."""


def _known_kind(job: Job) -> JobKind:
    try:
        return JobKind(job.kind)
    except ValueError:
        raise UnknownJobKindError(f"job {job.id} has kind {job.kind!r}, which has no results reader") from None


async def _batch_results(session: AsyncSession, job: Job) -> BatchResults:
    items = await session.scalars(select(BatchItem).where(BatchItem.job_id == job.id).order_by(BatchItem.domain))
    return BatchResults(job_id=job.id, items=items.all())


async def _sitemap_results(session: AsyncSession, job: Job) -> SitemapResults:
    parent = aliased(SitemapFile)
    files = await session.execute(
        select(SitemapFile, parent.url)
        .outerjoin(parent, SitemapFile.parent_id == parent.id)
        .where(SitemapFile.job_id == job.id)
        .order_by(SitemapFile.id)
    )
    urls = await session.scalars(
        select(SitemapUrl).join(SitemapFile).where(SitemapFile.job_id == job.id).order_by(SitemapUrl.id)
    )
    return SitemapResults(
        job_id=job.id,
        kind=job.kind,
        sitemap_files=[
            SitemapFileOut(
                domain=file.domain, url=file.url, kind=file.kind, parent_url=parent_url, url_count=file.url_count
            )
            for file, parent_url in files
        ],
        urls=urls.all(),
    )


async def _places_results(session: AsyncSession, job: Job) -> PlacesResults:
    places = await session.scalars(
        select(Place).join(JobPlace).where(JobPlace.job_id == job.id).order_by(JobPlace.position)
    )
    return PlacesResults(job_id=job.id, places=places.all())


async def _email_results(session: AsyncSession, job: Job) -> EmailResults:
    # Contacts are stored once per domain, by whichever scan found them first: every scan
    # of a domain reports the domain's contacts, a re-scan included.
    domain = job.params["domain"]
    contacts = await session.scalars(select(Contact).where(Contact.domain == domain).order_by(Contact.email))
    return EmailResults(job_id=job.id, domain=domain, contacts=contacts.all())


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request, session: ReadSessionDep) -> Health | JSONResponse:
    variant = request.app.state.variant
    try:
        await session.execute(text("SELECT 1"))
    except Exception as exc:
        body = Health(status="degraded", variant=variant, database=f"{type(exc).__name__}: {exc}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", variant=variant, database="ok")
