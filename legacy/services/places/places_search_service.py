"""Places search as it was before the work order.

Shows: one session held for the whole search. After the job is marked `processing`, the
first page's places are written as they come, which checks a connection out of the pool,
and it stays checked out across every later slow call to the paginated API, the token
waits and the rate-limit backoff, until the commit at the end. One search at a time works.
A few at once on a small pool hold every connection for seconds: the searches that come
next, and the API's own requests, wait `pool_timeout` and fail with `TimeoutError:
QueuePool limit of size N overflow 0 reached, connection timed out` (F10). The task's
`except Exception` logs the error and records nothing on the job, so those searches stay
`processing`, as does every search whose upstream failed (F11).
Does not guarantee: anything. This is the code being migrated away from.
"""

import logging
import uuid

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import get_engine
from playbook.app.models import Job, JobPlace, JobStatus, Place, utcnow
from playbook.upstream.places import fetch_page

logger = logging.getLogger(__name__)


async def process_places_search_background(job_id: uuid.UUID, query: str, location: str) -> None:
    """Background entry point: search places and save them on the job."""
    # expire_on_commit=False, so the job is still usable after the first commit.
    session = AsyncSession(get_engine(), expire_on_commit=False)
    try:
        job = await session.get(Job, job_id)
        # Start from a clean slate when a search runs again.
        await session.execute(delete(JobPlace).where(JobPlace.job_id == job_id))
        job.status = JobStatus.processing
        job.start_time = utcnow()
        job.total_items = job.completed_count = job.failed_count = 0
        job.item_results = {}
        await session.commit()

        position = 0
        page_token = None
        while True:
            page = await fetch_page(query=query, location=location, page_token=page_token)
            job.total_items += 1
            for place in page.places:
                position += 1
                values = {"name": place.name, "address": place.address, "rating": place.rating}
                await session.execute(
                    insert(Place)
                    .values(place_id=place.place_id, **values)
                    .on_conflict_do_update(index_elements=["place_id"], set_=values)
                )
                await session.execute(
                    insert(JobPlace)
                    .values(job_id=job_id, place_id=place.place_id, position=position)
                    .on_conflict_do_nothing()
                )
            job.completed_count += 1
            job.item_results = {**job.item_results, f"page {job.total_items}": "completed"}
            if page.next_page_token is None:
                break
            page_token = page.next_page_token

        job.status = JobStatus.completed
        job.end_time = utcnow()
        await session.commit()
        logger.info("places search %s: saved %d places", job_id, position)
    except Exception:
        logger.exception("places search %s failed", job_id)
    finally:
        await session.close()
