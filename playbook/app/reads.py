"""Endpoints both variants serve unchanged: reading jobs back, and health.

Every read opens its own session, so what a client sees is what the database holds,
never an object left in some task's memory. A job is read by its owner only: anyone else
gets the 404 of a job that does not exist. Results come a page at a time
(`playbook.app.cursors`), so the largest job the caps allow costs a request no more than
`MAX_PAGE_SIZE` rows. `/health` says ok or unavailable and nothing of the failure, which
goes to the log.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Literal, TypeVar, assert_never

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from playbook.app.auth import OwnerDep
from playbook.app.cursors import first_number_after, numbered_key
from playbook.app.database import get_engine
from playbook.app.errors import READ_ERRORS
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
    CURSOR_PATTERN,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BatchResults,
    EmailResults,
    Health,
    JobOut,
    JobResults,
    PlaceOut,
    PlacesResults,
    SitemapFileOut,
    SitemapResults,
    SitemapUrlOut,
)

logger = logging.getLogger(__name__)

router = APIRouter()

T = TypeVar("T")


async def get_read_session() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Entries per page.")]
Cursor = Annotated[
    str | None, Query(pattern=CURSOR_PATTERN, description="`next_cursor` of the page before; none for the first page.")
]
JOB_READ_ERRORS = {404: {"description": "No such job, or not one of this API key's"}, **READ_ERRORS}


async def job_of_owner(session: AsyncSession, *, job_id: uuid.UUID, owner: str) -> Job:
    """The job, if `owner` created it; otherwise the 404 of a job that does not exist."""
    job = await session.scalar(select(Job).where(Job.id == job_id, Job.owner == owner))
    if job is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} not found")
    return job


@router.get("/api/v3/jobs/{job_id}", response_model=JobOut, responses=JOB_READ_ERRORS)
async def read_job(job_id: uuid.UUID, session: ReadSessionDep, owner: OwnerDep) -> Job:
    return await job_of_owner(session, job_id=job_id, owner=owner)


@router.get("/api/v3/jobs/{job_id}/results", response_model=JobResults, responses=JOB_READ_ERRORS)
async def read_job_results(
    job_id: uuid.UUID,
    session: ReadSessionDep,
    owner: OwnerDep,
    limit: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> JobResults:
    job = await job_of_owner(session, job_id=job_id, owner=owner)
    kind = _known_kind(job)
    # Exhaustive: mypy fails the build when a kind is added without a reader here.
    match kind:
        case JobKind.batch:
            return await _batch_results(session, job, limit=limit, cursor=cursor)
        case JobKind.sitemap_scan | JobKind.sitemap_batch:
            return await _sitemap_results(session, job, limit=limit, cursor=cursor)
        case JobKind.places_search:
            return await _places_results(session, job, limit=limit, cursor=cursor)
        case JobKind.email_scan:
            return await _email_results(session, job, limit=limit, cursor=cursor)
        case _:
            assert_never(kind)


class UnknownJobKindError(LookupError):
    """A stored job has a kind this version has no results for."""


def _known_kind(job: Job) -> JobKind:
    try:
        return JobKind(job.kind)
    except ValueError:
        raise UnknownJobKindError(f"job {job.id} has kind {job.kind!r}, which has no results reader") from None


def _page(rows: Sequence[T], *, limit: int, key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """The first `limit` of `rows` (read as `limit + 1`) and the cursor of the next page, if there is one."""
    page = list(rows[:limit])
    return page, key(page[-1]) if len(rows) > limit else None


async def _batch_results(session: AsyncSession, job: Job, *, limit: int, cursor: str | None) -> BatchResults:
    domain = BatchItem.domain.collate("C")
    items = await session.scalars(
        select(BatchItem).where(BatchItem.job_id == job.id, domain > (cursor or "")).order_by(domain).limit(limit + 1)
    )
    page, next_cursor = _page(items.all(), limit=limit, key=lambda item: item.domain)
    return BatchResults(job_id=job.id, items=page, next_cursor=next_cursor)


async def _sitemap_results(session: AsyncSession, job: Job, *, limit: int, cursor: str | None) -> SitemapResults:
    # Documents ("d" keys) come before URLs ("u" keys): a page may end one list and start the other.
    entries: list[tuple[str, SitemapFileOut | SitemapUrlOut]] = []
    first_file = first_number_after(cursor, "d")
    if first_file is not None:
        parent = aliased(SitemapFile)
        files = await session.execute(
            select(SitemapFile, parent.url)
            .outerjoin(parent, SitemapFile.parent_id == parent.id)
            .where(SitemapFile.job_id == job.id, SitemapFile.id >= first_file)
            .order_by(SitemapFile.id)
            .limit(limit + 1)
        )
        entries += [
            (
                numbered_key("d", file.id),
                SitemapFileOut(
                    domain=file.domain, url=file.url, kind=file.kind, parent_url=parent_url, url_count=file.url_count
                ),
            )
            for file, parent_url in files
        ]
    first_url = first_number_after(cursor, "u")
    if len(entries) <= limit and first_url is not None:
        urls = await session.scalars(
            select(SitemapUrl)
            .join(SitemapFile)
            .where(SitemapFile.job_id == job.id, SitemapUrl.id >= first_url)
            .order_by(SitemapUrl.id)
            .limit(limit + 1 - len(entries))
        )
        entries += [(numbered_key("u", url.id), SitemapUrlOut.model_validate(url)) for url in urls]
    page, next_cursor = _page(entries, limit=limit, key=lambda entry: entry[0])
    return SitemapResults(
        job_id=job.id,
        kind=job.kind,
        sitemap_files=[entry for _, entry in page if isinstance(entry, SitemapFileOut)],
        urls=[entry for _, entry in page if isinstance(entry, SitemapUrlOut)],
        next_cursor=next_cursor,
    )


async def _places_results(session: AsyncSession, job: Job, *, limit: int, cursor: str | None) -> PlacesResults:
    first = first_number_after(cursor, "p")
    if first is None:
        return PlacesResults(job_id=job.id, places=[], next_cursor=None)
    rows = await session.execute(
        select(Place, JobPlace.position)
        .join(JobPlace)
        .where(JobPlace.job_id == job.id, JobPlace.position >= first)
        .order_by(JobPlace.position)
        .limit(limit + 1)
    )
    page, next_cursor = _page(rows.all(), limit=limit, key=lambda row: numbered_key("p", row.position))
    return PlacesResults(
        job_id=job.id, places=[PlaceOut.model_validate(place) for place, _ in page], next_cursor=next_cursor
    )


async def _email_results(session: AsyncSession, job: Job, *, limit: int, cursor: str | None) -> EmailResults:
    # Contacts are stored once per domain and owner, by whichever of the owner's scans found
    # them first: every scan of a domain reports the domain's contacts, a re-scan included.
    domain = job.params["domain"]
    email = Contact.email.collate("C")
    contacts = await session.scalars(
        select(Contact)
        .where(Contact.owner == job.owner, Contact.domain == domain, email > (cursor or ""))
        .order_by(email)
        .limit(limit + 1)
    )
    page, next_cursor = _page(contacts.all(), limit=limit, key=lambda contact: contact.email)
    return EmailResults(job_id=job.id, domain=domain, contacts=page, next_cursor=next_cursor)


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer; the log says why."}},
)
async def health(request: Request, session: ReadSessionDep) -> Health | JSONResponse:
    variant = request.app.state.variant
    auth: Literal["open", "api-keys"] = "open" if request.app.state.api_keys.open else "api-keys"
    try:
        await session.execute(text("SELECT 1"))
    except Exception:
        logger.exception("health: the database does not answer")
        body = Health(status="unavailable", variant=variant, auth=auth)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", variant=variant, auth=auth)
