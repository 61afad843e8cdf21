"""Batch processing, the standard way: the work order's `process_batch_with_own_session`.

Shows: a task that receives IDs and plain data (R1), fetches each site with no session
open (R2), writes outcomes in short sessions of its own (R1, R9), and always ends the
job in a terminal status (R5, R6). Outcomes are written `FLUSH_EVERY` at a time, or
whatever is pending once a second if that comes first: a commit per write, not per
item, and progress read from the job never more than a second behind the work (plus
the time one write takes). `process_batch_concurrently` is the same job with bounded
concurrency: a fixed number of workers, each with its own sessions and its own pending
outcomes (R4). A resumed job fetches only the items the database does not hold yet,
and a job shared out in parts gets a part of the items (R7).
Does not guarantee: ordering of `item_results` under concurrency; outcomes fetched but
not yet written when the process dies are lost, and fetched again by a re-run (R7).
"""

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import TypedDict

from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.models import BatchItem
from playbook.upstream.sites import SiteError, fetch_site
from standardized.db import is_transient, run_in_transaction
from standardized.jobs import finish_job, record_items, run_job, run_workers, start_job

logger = logging.getLogger(__name__)


class Outcome(TypedDict):
    """What is stored for one item: the columns of its `BatchItem` row that the fetch decides."""

    status: str
    http_status: int | None
    title: str | None
    error: str | None


FLUSH_EVERY = 25  # outcomes written in one session, at most
MAX_STALENESS = 1.0  # seconds an outcome may wait before it is written


async def process_batch_with_own_session(batch_id: uuid.UUID, items: list[str]) -> None:
    """Background entry point: process the items one after another, written `FLUSH_EVERY` at a time or each second."""
    await run_job(job_id=batch_id, work=_process_items(batch_id=batch_id, items=items, workers=1))


async def process_batch_concurrently(
    batch_id: uuid.UUID, items: list[str], *, workers: int = 10, flush_every: int = FLUSH_EVERY
) -> None:
    """Background entry point: `workers` items in flight at once; each worker writes every `flush_every` items."""
    await run_job(
        job_id=batch_id, work=_process_items(batch_id=batch_id, items=items, workers=workers, flush_every=flush_every)
    )


async def _process_items(
    *, batch_id: uuid.UUID, items: list[str], workers: int, flush_every: int = FLUSH_EVERY
) -> None:
    recorded = await start_job(job_id=batch_id)
    # A resumed job runs only the items the database does not hold yet (R7).
    items = [item for item in items if item not in recorded]
    logger.info("batch %s: processing %d items with %d worker(s)", batch_id, len(items), workers)
    await run_workers(
        items=items,
        workers=workers,
        work=lambda remaining: _work_through(remaining, batch_id=batch_id, flush_every=flush_every),
    )
    await finish_job(job_id=batch_id)
    logger.info("batch %s: done", batch_id)


async def _work_through(remaining: Iterator[str], *, batch_id: uuid.UUID, flush_every: int) -> None:
    pending = _PendingOutcomes(batch_id=batch_id)
    async with asyncio.TaskGroup() as group:
        # A timer writes what is pending once a second, even while a slow site is awaited.
        group.create_task(pending.write_each_second())
        for item in remaining:
            pending.add(item, await fetch_outcome(batch_id=batch_id, item=item))
            if len(pending) >= flush_every:
                await pending.write()
        # The timer writes what is left and ends; the group waits for it.
        pending.close()


class _PendingOutcomes:
    """One worker's outcomes fetched but not written yet."""

    def __init__(self, *, batch_id: uuid.UUID) -> None:
        self._batch_id = batch_id
        self._outcomes: dict[str, Outcome] = {}
        self._writing = asyncio.Lock()
        self._closed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._outcomes)

    def add(self, item: str, outcome: Outcome) -> None:
        self._outcomes[item] = outcome

    def close(self) -> None:
        self._closed.set()

    async def write(self) -> None:
        # One write at a time: a worker holds at most one connection, and writes land in order.
        async with self._writing:
            outcomes, self._outcomes = self._outcomes, {}
            if outcomes:
                await _store_outcomes(batch_id=self._batch_id, outcomes=outcomes)

    async def write_each_second(self) -> None:
        closed = False
        while not closed:
            # Sleep a second, or less if the worker closes first.
            with suppress(TimeoutError):
                async with asyncio.timeout(MAX_STALENESS):
                    await self._closed.wait()
            # Read before writing: whatever the worker added before closing is in this write.
            closed = self._closed.is_set()
            await self.write()


async def fetch_outcome(*, batch_id: uuid.UUID, item: str) -> Outcome:
    """Fetch one site and say what to store for it; never raises for a site that fails."""
    # Network I/O with no session open: a slow site holds no connection (R2).
    try:
        site = await fetch_site(item)
    except SiteError as exc:
        logger.warning("batch %s: item %s failed: %s", batch_id, item, exc)
        return {"status": "failed", "http_status": None, "title": None, "error": str(exc)}
    return {"status": "completed", "http_status": site.http_status, "title": site.title, "error": None}


async def _store_outcomes(*, batch_id: uuid.UUID, outcomes: dict[str, Outcome]) -> None:
    try:
        # One short transaction writes the items and counts them, retried if the database is away.
        await run_in_transaction(lambda session: write_outcomes(session=session, batch_id=batch_id, outcomes=outcomes))
    except DBAPIError as exc:
        if len(outcomes) == 1 or is_transient(exc):
            raise
        # The database refused the write: one item at a time, so the items before the one
        # it refuses are kept, and the job fails on that item's error.
        for item, outcome in outcomes.items():
            await _store_outcomes(batch_id=batch_id, outcomes={item: outcome})


async def write_outcomes(*, session: AsyncSession, batch_id: uuid.UUID, outcomes: dict[str, Outcome]) -> None:
    """Store items and count them in the caller's transaction."""
    rows = [{"job_id": batch_id, "domain": item, **row} for item, row in outcomes.items()]
    await session.execute(_UPSERT_ITEMS, rows)
    await record_items(session=session, job_id=batch_id, errors={item: row["error"] for item, row in outcomes.items()})


def _upsert_items_statement() -> Insert:
    # Upsert, so a re-run overwrites what an earlier attempt wrote (R7). Built once: a Core
    # statement on the table, executed with a list of rows, compiles once and is cached.
    statement = insert(BatchItem.__table__)
    columns = ("status", "http_status", "title", "error")
    return statement.on_conflict_do_update(
        index_elements=["job_id", "domain"], set_={column: statement.excluded[column] for column in columns}
    )


_UPSERT_ITEMS = _upsert_items_statement()
