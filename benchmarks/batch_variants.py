"""The same batch job written six ways, for the benchmarks only.

Every variant fetches the same sites and issues the same SQL: mark the job processing,
then per item an upsert of its row and an atomic update of the job's counters in one
transaction, then the final status. They differ only in how they get a connection:

- `raw_asyncpg`: one asyncpg connection, hand-written SQL; the floor for the database part.
- `single_session`: one `AsyncSession` (expire_on_commit=False) for the whole job, a
  commit per item: what the legacy code would cost if it did not crash.
- `standardized`: `process_batch_with_own_session`, a session per operation.
- `advanced_alchemy`: a session per item from advanced-alchemy's `config.get_session()`.
- `fastapi_async_sqlalchemy`: a session per item from fastapi-async-sqlalchemy's `async with db()`.
- `standardized_concurrent`: `process_batch_concurrently`, bounded workers with their own sessions.

None of these but the standardized ones is meant for the services; they exist to be measured.
"""

import json
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
from advanced_alchemy.config import AsyncSessionConfig, SQLAlchemyAsyncConfig
from fastapi_async_sqlalchemy import SQLAlchemyMiddleware, db
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import get_engine
from standardized.jobs import finish_job, start_job
from standardized.services.batch.batch_functions import (
    fetch_outcome,
    process_batch_concurrently,
    process_batch_with_own_session,
    write_outcomes,
)

BatchRun = Callable[[uuid.UUID, list[str]], Coroutine[Any, Any, None]]

RAW_START_JOB = """
UPDATE jobs SET status = 'processing', start_time = now(), end_time = NULL, completed_count = 0,
       failed_count = 0, error = NULL, item_results = '{}', updated_at = now()
WHERE id = $1"""
_RAW_UPSERT_ITEM = """
INSERT INTO batch_items (job_id, domain, status, http_status, title, error) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (job_id, domain) DO UPDATE SET status = excluded.status, http_status = excluded.http_status,
       title = excluded.title, error = excluded.error"""
_RAW_COUNT_ITEM = """
UPDATE jobs SET completed_count = completed_count + $2, failed_count = failed_count + $3,
       item_results = item_results || $4::jsonb, error = coalesce($5, error), updated_at = now()
WHERE id = $1"""
RAW_FINISH_JOB = """
UPDATE jobs SET status = CASE WHEN failed_count = 0 THEN 'completed' WHEN completed_count = 0 THEN 'failed'
       ELSE 'partial' END, end_time = now(), updated_at = now()
WHERE id = $1"""


async def raw_count_item(connection: asyncpg.Connection, *, job_id: uuid.UUID, item: str, error: str | None) -> None:
    """What `standardized.jobs.record_items` writes for one item, as hand-written SQL.

    Without its idempotence (an item recorded again is counted once): the floor is the
    cheapest way to count, so the standard pattern's ratio to it includes that check.
    """
    failed = error is not None
    await connection.execute(
        _RAW_COUNT_ITEM,
        job_id,
        int(not failed),
        int(failed),
        json.dumps({item: f"failed: {error}" if failed else "completed"}),
        f"Error processing item {item}: {error}" if failed else None,
    )


def raw_asyncpg(connection: asyncpg.Connection) -> BatchRun:
    async def run(batch_id: uuid.UUID, items: list[str]) -> None:
        await connection.execute(RAW_START_JOB, batch_id)
        for item in items:
            row = await fetch_outcome(batch_id=batch_id, item=item)
            async with connection.transaction():
                await connection.execute(
                    _RAW_UPSERT_ITEM, batch_id, item, row["status"], row["http_status"], row["title"], row["error"]
                )
                await raw_count_item(connection, job_id=batch_id, item=item, error=row["error"])
        await connection.execute(RAW_FINISH_JOB, batch_id)

    return run


async def single_session(batch_id: uuid.UUID, items: list[str]) -> None:
    await start_job(job_id=batch_id)
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        for item in items:
            outcome = await fetch_outcome(batch_id=batch_id, item=item)
            await write_outcomes(session=session, batch_id=batch_id, outcomes={item: outcome})
            await session.commit()
    await finish_job(job_id=batch_id)


def advanced_alchemy() -> BatchRun:
    config = SQLAlchemyAsyncConfig(
        engine_instance=get_engine(), session_config=AsyncSessionConfig(expire_on_commit=False)
    )

    async def run(batch_id: uuid.UUID, items: list[str]) -> None:
        await start_job(job_id=batch_id)
        for item in items:
            outcome = await fetch_outcome(batch_id=batch_id, item=item)
            async with config.get_session() as session:
                await write_outcomes(session=session, batch_id=batch_id, outcomes={item: outcome})
                await session.commit()
        await finish_job(job_id=batch_id)

    return run


def fastapi_async_sqlalchemy() -> BatchRun:
    # The middleware's constructor is what configures the `db` proxy's session factory.
    SQLAlchemyMiddleware(app=None, custom_engine=get_engine())

    async def run(batch_id: uuid.UUID, items: list[str]) -> None:
        await start_job(job_id=batch_id)
        for item in items:
            outcome = await fetch_outcome(batch_id=batch_id, item=item)
            async with db(commit_on_exit=True):
                await write_outcomes(session=db.session, batch_id=batch_id, outcomes={item: outcome})
        await finish_job(job_id=batch_id)

    return run


CONCURRENT_WORKERS = 10


async def standardized(batch_id: uuid.UUID, items: list[str]) -> None:
    await process_batch_with_own_session(batch_id, items)


async def standardized_concurrent(batch_id: uuid.UUID, items: list[str]) -> None:
    await process_batch_concurrently(batch_id, items, workers=CONCURRENT_WORKERS)
