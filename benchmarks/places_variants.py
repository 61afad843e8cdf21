"""One places search written three ways, for the benchmarks only.

Every variant reads the same pages and makes the same writes: mark the job processing, drop
what an earlier attempt linked, then per page, in one transaction, an upsert of its places,
their links to the job, the job's page count and an atomic update of its counters; then
the final status. They differ only in how they get a connection:

- `raw_asyncpg`: one asyncpg connection, hand-written SQL; the floor for the database part.
- `single_session`: one `AsyncSession` (expire_on_commit=False) for the whole search, a
  commit per page, through the service's own `write_page`.
- `standardized`: the shipped `process_places_search_background`, a session per operation.

Pages are read one after another in every variant: each needs the token the previous one
brought. The peer libraries' session helpers are measured on the batch job only. None of
these but the standardized one is meant for the service.
"""

import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.batch_variants import RAW_FINISH_JOB, RAW_START_JOB, raw_count_item
from playbook.app.database import get_engine
from standardized.jobs import finish_job, start_job
from standardized.services.places.places_search_service import (
    PageOutcome,
    fetch_pages,
    forget_earlier_pages,
    process_places_search_background,
    write_page,
)

PlacesRun = Callable[[uuid.UUID, str, str], Coroutine[Any, Any, None]]

_RAW_FORGET_PAGES = "DELETE FROM job_places WHERE job_id = $1"
_RAW_SET_PAGES = "UPDATE jobs SET total_items = $2, updated_at = now() WHERE id = $1"
_RAW_UPSERT_PLACE = """
INSERT INTO places (place_id, name, address, rating) VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id) DO UPDATE SET name = excluded.name, address = excluded.address,
       rating = excluded.rating, updated_at = now()"""
_RAW_LINK_PLACE = "INSERT INTO job_places (job_id, place_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"


def raw_asyncpg(connection: asyncpg.Connection) -> PlacesRun:
    async def run(job_id: uuid.UUID, query: str, location: str) -> None:
        await connection.execute(RAW_START_JOB, job_id)
        async with connection.transaction():
            await connection.execute(_RAW_FORGET_PAGES, job_id)
            await connection.execute(_RAW_SET_PAGES, job_id, 0)
        async for page in fetch_pages(job_id=job_id, query=query, location=location):
            async with connection.transaction():
                await _raw_write_page(connection, job_id=job_id, page=page)
        await connection.execute(RAW_FINISH_JOB, job_id)

    return run


async def _raw_write_page(connection: asyncpg.Connection, *, job_id: uuid.UUID, page: PageOutcome) -> None:
    if page.places:
        unique = sorted({place.place_id: place for place in page.places}.values(), key=lambda place: place.place_id)
        await connection.executemany(
            _RAW_UPSERT_PLACE, [(place.place_id, place.name, place.address, place.rating) for place in unique]
        )
        await connection.executemany(
            _RAW_LINK_PLACE,
            [(job_id, place.place_id, page.first_position + offset) for offset, place in enumerate(page.places)],
        )
    await connection.execute(_RAW_SET_PAGES, job_id, page.number)
    await raw_count_item(connection, job_id=job_id, item=f"page {page.number}", error=page.error)


async def single_session(job_id: uuid.UUID, query: str, location: str) -> None:
    await start_job(job_id=job_id)
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        await forget_earlier_pages(session=session, job_id=job_id)
        await session.commit()
        async for page in fetch_pages(job_id=job_id, query=query, location=location):
            await write_page(session=session, job_id=job_id, page=page)
            await session.commit()
    await finish_job(job_id=job_id)


async def standardized(job_id: uuid.UUID, query: str, location: str) -> None:
    await process_places_search_background(job_id, query, location)
