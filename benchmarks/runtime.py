"""What every benchmark runs on: one database, the app's engine bound, a raw asyncpg
connection beside it, and the upstream simulator bound at a given latency. The database's
`synchronous_commit` is `BENCH_SYNCHRONOUS_COMMIT` (`benchmarks/plan.py`); autovacuum is
off on its tables.

All of it lives on one event loop in one process, as in the app; a memory run
(`benchmarks/memory.py`) builds the same in a process of its own.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import URL

from benchmarks.plan import SYNCHRONOUS_COMMIT
from playbook.app.database import bound_engine
from playbook.app.models import Base
from playbook.app.settings import Settings
from playbook.harness.databases import (
    asyncpg_connect_args,
    drop_database,
    prepare_database,
    resolve_server_url,
)
from playbook.harness.simulator.transport import bound_simulated_upstream

# A pool large enough for the concurrent variant's workers plus its own bookkeeping.
SETTINGS = Settings(pool_size=12, max_overflow=0)


@dataclass(frozen=True)
class Runtime:
    database_url: URL
    raw_connection: asyncpg.Connection


@asynccontextmanager
async def bench_database() -> AsyncIterator[URL]:
    """A fresh database for one benchmark run, dropped when the run ends."""
    name = f"playbook_bench_{uuid.uuid4().hex[:8]}"
    url = await prepare_database(SETTINGS, name, replace=True)
    try:
        connection = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            # For every connection made from here on, the engine's and the memory runs' alike.
            await connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = {SYNCHRONOUS_COMMIT}')
            # The paired runs empty the tables before each run, so nothing piles up for autovacuum
            # to clean; left on, it would land in one run and not the next.
            for table in Base.metadata.sorted_tables:
                await connection.execute(
                    f"ALTER TABLE {table.name} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"
                )
        finally:
            await connection.close()
        yield url
    finally:
        await drop_database(resolve_server_url(SETTINGS), name)


@asynccontextmanager
async def bench_runtime(database_url: URL) -> AsyncIterator[Runtime]:
    """The engine bound as the app binds it, and a raw connection for the hand-written variants."""
    async with bound_engine(database_url, SETTINGS):
        raw_connection = await asyncpg.connect(**asyncpg_connect_args(database_url))
        try:
            yield Runtime(database_url=database_url, raw_connection=raw_connection)
        finally:
            await raw_connection.close()


@asynccontextmanager
async def upstream_at(latency_ms: int) -> AsyncIterator[None]:
    """The services' httpx client bound to the simulator, which adds `latency_ms` to every answer."""
    async with bound_simulated_upstream(SETTINGS.model_copy(update={"upstream_latency_ms": latency_ms})):
        yield
