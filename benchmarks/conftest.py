"""Fixtures for the benchmarks: one event loop, one database, the engine and upstream bound.

The benchmarks are synchronous pytest-benchmark tests that drive one `asyncio.Runner`,
so everything async (engine, connections, the simulator) lives on that runner's loop.
"""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy.engine import URL

from playbook.database import (
    asyncpg_connect_args,
    bound_engine,
    drop_database,
    prepare_database,
    resolve_server_url,
)
from playbook.models import Job
from playbook.settings import Settings
from playbook.upstream.client import bound_http_client
from standardized.db import get_background_session

SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", "10,100,1000").split(",")]
LATENCIES_MS = [int(ms) for ms in os.environ.get("BENCH_LATENCIES_MS", "0,50").split(",")]


@dataclass
class BenchLoop:
    runner: asyncio.Runner

    def run(self, awaitable):
        return self.runner.run(awaitable)


@pytest.fixture(scope="session")
def settings() -> Settings:
    # Pool large enough for the concurrent variant's workers plus its own bookkeeping.
    return Settings(pool_size=12, max_overflow=0)


@pytest.fixture(scope="session")
def loop() -> Iterator[BenchLoop]:
    with asyncio.Runner() as runner:
        yield BenchLoop(runner)


@pytest.fixture(scope="session")
def database_url(loop: BenchLoop, settings: Settings) -> Iterator[URL]:
    name = f"playbook_bench_{uuid.uuid4().hex[:8]}"
    url = loop.run(prepare_database(settings, name, replace=True))
    yield url
    loop.run(drop_database(resolve_server_url(settings), name))


@pytest.fixture(scope="session")
def engine_bound(loop: BenchLoop, database_url: URL, settings: Settings) -> Iterator[None]:
    stack = AsyncExitStack()
    loop.run(stack.enter_async_context(bound_engine(database_url, settings)))
    yield
    loop.run(stack.aclose())


@pytest.fixture(scope="session")
def raw_connection(loop: BenchLoop, database_url: URL) -> Iterator[asyncpg.Connection]:
    connection = loop.run(asyncpg.connect(**asyncpg_connect_args(database_url)))
    yield connection
    loop.run(connection.close())


@pytest.fixture(params=LATENCIES_MS, ids=lambda ms: f"{ms}ms")
def upstream_latency(request: pytest.FixtureRequest, loop: BenchLoop, settings: Settings) -> Iterator[int]:
    stack = AsyncExitStack()
    loop.run(stack.enter_async_context(bound_http_client(settings.model_copy(update={"upstream_latency_ms": request.param}))))
    yield request.param
    loop.run(stack.aclose())


async def create_batch_job(total_items: int) -> uuid.UUID:
    async with get_background_session() as session:
        job = Job(kind="batch", total_items=total_items)
        session.add(job)
    return job.id
