"""Places search, the standard way: the work order's `process_places_search_background`.

Shows: a task that receives the job id and plain data (R1), fetches every page with no
session open, token waits and rate-limit backoff included (R2), and writes each page's
places and its count in one short transaction (R1, R9), retried if the database is away.
Places are upserted, so a place on two pages or found by two searches is stored once,
and a re-run rewrites the same rows (R7). A resumed search starts again from page 1: the
token for a later page came with the answer to an earlier request, which is gone. The job
always ends in a terminal status with its error recorded (R5, R6).

Job accounting: the items are the pages, "page 1", "page 2", ...; `total_items` is the
number of pages fetched. A failed page ends the search, since the token for the next page
came with it. The job is completed when every page was read (a search with
ZERO_RESULTS is one completed page with no places), partial when a later page failed,
failed when the first one did.
Does not guarantee: a consistent snapshot; a place that changes between pages is stored
as last seen.
"""

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import Job, JobPlace, Place
from playbook.upstream.places import FoundPlace, PlacesError, fetch_page
from standardized.db import run_in_transaction
from standardized.jobs import finish_job, record_item, run_job, start_job

logger = logging.getLogger(__name__)


async def process_places_search_background(job_id: uuid.UUID, query: str, location: str) -> None:
    """Background entry point: search `query` in `location` page by page, as job `job_id`."""
    await run_job(job_id=job_id, work=_search(job_id=job_id, query=query, location=location))


async def _search(*, job_id: uuid.UUID, query: str, location: str) -> None:
    logger.info("places search %s: %r in %r", job_id, query, location)
    # Status changes each take a short session of their own, closed before any network call.
    await start_job(job_id=job_id)
    await run_in_transaction(lambda session: forget_earlier_pages(session=session, job_id=job_id))
    pages_read = 0
    async for page in fetch_pages(job_id=job_id, query=query, location=location):
        await _store_page(job_id=job_id, page=page)
        pages_read = page.number
    await finish_job(job_id=job_id)
    logger.info("places search %s: done after %d pages", job_id, pages_read)


async def _store_page(*, job_id: uuid.UUID, page: "PageOutcome") -> None:
    # One short transaction writes the page's places and counts the page, retried if the database is away.
    await run_in_transaction(lambda session: write_page(session=session, job_id=job_id, page=page))


@dataclass(frozen=True)
class PageOutcome:
    """One page as fetched: its places, or the reason it failed, which ends the search."""

    number: int
    places: tuple[FoundPlace, ...] = ()
    first_position: int = 1  # positions follow the API's order, repeats from earlier pages included
    error: str | None = None


async def fetch_pages(*, job_id: uuid.UUID, query: str, location: str) -> AsyncIterator[PageOutcome]:
    """The search's pages in order; a failed page is the last one."""
    number, places_before, page_token = 1, 0, None
    while True:
        # Network I/O with no session open: the API's latency, the token waits and the
        # backoff hold no connection, however long they take (R2).
        try:
            page = await fetch_page(query=query, location=location, page_token=page_token)
        except PlacesError as exc:
            logger.warning("places search %s: page %d failed: %s", job_id, number, exc)
            # The token for the next page came with this one: the search ends here.
            yield PageOutcome(number=number, error=str(exc))
            return
        yield PageOutcome(number=number, places=page.places, first_position=places_before + 1)
        if page.next_page_token is None:
            return
        number += 1
        places_before += len(page.places)
        page_token = page.next_page_token


async def forget_earlier_pages(*, session: AsyncSession, job_id: uuid.UUID) -> None:
    """A re-run starts again from page 1: drop what an earlier attempt linked and counted (R7)."""
    await session.execute(delete(JobPlace).where(JobPlace.job_id == job_id))
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(total_items=0, completed_count=0, failed_count=0, item_results={}, error=None)
    )


async def write_page(*, session: AsyncSession, job_id: uuid.UUID, page: PageOutcome) -> None:
    """Store one page's places and count the page, in the caller's transaction."""
    # Places, link rows and counters commit together, or not at all.
    if page.places:
        await _upsert_places(session=session, job_id=job_id, places=page.places, first_position=page.first_position)
    await session.execute(update(Job).where(Job.id == job_id).values(total_items=page.number))
    await record_item(session=session, job_id=job_id, item=f"page {page.number}", error=page.error)


async def _upsert_places(
    *, session: AsyncSession, job_id: uuid.UUID, places: tuple[FoundPlace, ...], first_position: int
) -> None:
    # One row per place_id, in a fixed order: PostgreSQL cannot update a row twice in one
    # statement, and searches upserting the same places lock them in the same order.
    unique = sorted({place.place_id: place for place in places}.values(), key=lambda place: place.place_id)
    rows = [
        {"place_id": place.place_id, "name": place.name, "address": place.address, "rating": place.rating}
        for place in unique
    ]
    # INSERT ... ON CONFLICT DO UPDATE: a place found again is refreshed, never duplicated.
    # Core statements skip the ORM's `onupdate`, so `updated_at` is set here.
    statement = insert(Place).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Place.place_id],
            set_={
                "name": statement.excluded.name,
                "address": statement.excluded.address,
                "rating": statement.excluded.rating,
                "updated_at": func.now(),
            },
        )
    )
    # DO NOTHING: a place repeated from an earlier page keeps the position it was first seen at.
    links = [
        {"job_id": job_id, "place_id": place.place_id, "position": first_position + offset}
        for offset, place in enumerate(places)
    ]
    await session.execute(insert(JobPlace).values(links).on_conflict_do_nothing())
