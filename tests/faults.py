"""What the database-level tests share: settings short enough for a test, writing a job row
straight into the database, reading a job and its items back, and waiting for a job to get somewhere."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.models import TERMINAL_STATUSES, BatchItem, Job

# Heartbeats twice a second, dead after 2 s silent, a second of grace: recovery in a few seconds.
FAST_RECOVERY = {
    "heartbeat_interval": 0.5,
    "dead_after": 2.0,
    "shutdown_grace": 1.0,
    "upstream_timeout": 10.0,
    "reaper_interval": 3600,
}


@asynccontextmanager
async def before_each_insert(engine: AsyncEngine, table: str, statement: str) -> AsyncIterator[None]:
    """Every insert into `table` runs the PL/pgSQL `statement` first, until the block ends."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION before_insert() RETURNS trigger LANGUAGE plpgsql"
                f" AS $$ BEGIN {statement}; RETURN NEW; END $$"
            )
        )
        await connection.execute(
            text(f"CREATE TRIGGER before_insert BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION before_insert()")
        )
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TRIGGER before_insert ON {table}"))
            await connection.execute(text("DROP FUNCTION before_insert()"))


def slow_inserts(engine: AsyncEngine, table: str, *, seconds: float):  # type: ignore[no-untyped-def]
    """Every row inserted into `table` takes `seconds` longer, until the block ends."""
    return before_each_insert(engine, table, f"PERFORM pg_sleep({seconds})")


def sites(count: int, *, prefix: str = "site") -> list[str]:
    return [f"{prefix}-{n}.test" for n in range(count)]


async def insert_job(
    engine: AsyncEngine, *, kind: str, item_rows: Iterable[BatchItem] = (), **columns: Any
) -> uuid.UUID:
    """A job row of `kind` with `columns` (the model's defaults for the others), and its `item_rows`
    (`BatchItem`s without a `job_id`), written in one transaction: the job's id."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        job = Job(kind=kind, **columns)
        session.add(job)
        await session.flush()
        for row in item_rows:
            row.job_id = job.id
            session.add(row)
        await session.commit()
    return job.id


async def read_stored_job(engine: AsyncEngine, job_id: uuid.UUID | str) -> Job:
    """The job's row as the database holds it (`tests.helpers.read_job` reads it through the API)."""
    async with AsyncSession(engine) as session:
        return await session.get_one(Job, uuid.UUID(str(job_id)))


async def stored_domains(engine: AsyncEngine, job_id: uuid.UUID | str) -> list[str]:
    """The job's item rows, one domain per row, sorted: a domain stored twice shows twice."""
    async with AsyncSession(engine) as session:
        domains = await session.scalars(
            select(BatchItem.domain).where(BatchItem.job_id == uuid.UUID(str(job_id))).order_by(BatchItem.domain)
        )
        return list(domains)


async def stored_titles(engine: AsyncEngine, job_id: uuid.UUID | str) -> list[tuple[str, str | None]]:
    """The job's item rows as (domain, title), sorted by domain."""
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(BatchItem.domain, BatchItem.title)
            .where(BatchItem.job_id == uuid.UUID(str(job_id)))
            .order_by(BatchItem.domain)
        )
        return [(domain, title) for domain, title in rows]


async def wait_for_job(
    engine: AsyncEngine, job_id: uuid.UUID | str, condition: Callable[[Job], bool], *, within: float = 60.0
) -> Job:
    """The job once `condition` holds; fails after `within` seconds with the job as it stands."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition(job := await read_stored_job(engine, job_id)):
        assert loop.time() < deadline, f"job {job_id} still {job.status} ({job.completed_count} done) after {within} s"
        await asyncio.sleep(0.05)
    return job


def finished(job: Job) -> bool:
    return job.status in TERMINAL_STATUSES


def done_at_least(count: int) -> Callable[[Job], bool]:
    return lambda job: job.completed_count + job.failed_count >= count
