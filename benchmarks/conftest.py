"""Fixtures for the benchmarks: one event loop, one database, the engine and upstream bound.

The benchmarks are synchronous pytest-benchmark tests that drive one `asyncio.Runner`,
so everything async (engine, connections, the simulator) lives on that runner's loop.
"""

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy.engine import URL

from playbook.app.database import bound_engine, get_pool_stats
from playbook.app.models import Job
from playbook.app.settings import Settings
from playbook.harness.databases import (
    asyncpg_connect_args,
    drop_database,
    prepare_database,
    resolve_server_url,
)
from playbook.harness.simulator.transport import bound_simulated_upstream
from standardized.db import get_background_session


def _numbers(variable: str, default: str) -> list[int]:
    return [int(number) for number in os.environ.get(variable, default).split(",")]


SIZES = _numbers("BENCH_SIZES", "10,100,1000")  # batch items
SITEMAP_DOMAINS = _numbers("BENCH_SITEMAP_DOMAINS", "2,8,32")  # domains, each 6 upstream requests
PLACES_PAGES = _numbers("BENCH_PLACES_PAGES", "1,2,4")  # pages of one search; the simulator serves at most 4
LATENCIES_MS = _numbers("BENCH_LATENCIES_MS", "0,50")

T = TypeVar("T")


@dataclass
class BenchLoop:
    runner: asyncio.Runner

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)


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
    loop.run(
        stack.enter_async_context(
            bound_simulated_upstream(settings.model_copy(update={"upstream_latency_ms": request.param}))
        )
    )
    yield request.param
    loop.run(stack.aclose())


async def create_job(kind: str, total_items: int) -> uuid.UUID:
    async with get_background_session() as session:
        job = Job(kind=kind, total_items=total_items)
        session.add(job)
    return job.id


def rounds(upstream_requests: int, latency_ms: int) -> int:
    """Rounds for a job making `upstream_requests` requests: fewer as it grows, one for long waits,
    at least three when only the database is measured (its single rounds are noisy)."""
    return 1 if latency_ms and upstream_requests >= 100 else max(3, min(5, 500 // upstream_requests))


def time_job(
    benchmark: BenchmarkFixture,
    loop: BenchLoop,
    *,
    kind: str,
    total_items: int,
    run: Callable[[uuid.UUID], Coroutine[Any, Any, None]],
    rounds: int,
) -> uuid.UUID:
    """Time `run(job_id)` on a fresh job each round; the last round's job id, to read it back."""
    job_ids: list[uuid.UUID] = []

    def new_job() -> tuple[tuple[uuid.UUID], dict[str, Any]]:
        job_ids.append(loop.run(create_job(kind, total_items)))
        get_pool_stats().reset_peak()
        return (job_ids[-1],), {}

    benchmark.pedantic(lambda job_id: loop.run(run(job_id)), setup=new_job, rounds=rounds)
    return job_ids[-1]


def record_run(benchmark: BenchmarkFixture, *, service: str, variant: str, items: int, latency_ms: int) -> None:
    """What `benchmarks/report.py` keys and reads the result by."""
    benchmark.extra_info.update(
        service=service,
        variant=variant,
        items=items,
        latency_ms=latency_ms,
        connections=1 if variant == "raw_asyncpg" else get_pool_stats().peak,
    )
