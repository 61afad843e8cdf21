"""Where a batch item's time goes: each variant run once with timers on the boundaries it crosses.

The timers are installed for the breakdown runs only, never during the paired rounds:

- upstream fetch: `fetch_site` as `fetch_outcome` calls it; the simulator runs in this
  process, so at 0 ms its own work is here too;
- pool checkout: the engine pool's `connect()`, including any wait for a free connection;
- statements: SQLAlchemy's cursor executions (`before_cursor_execute` to
  `after_cursor_execute`), which include the BEGIN the asyncpg driver sends before a
  transaction's first statement and any statement preparing; for raw asyncpg, every
  statement but COMMIT, from asyncpg's query logger;
- commit: the dialect's `do_commit`, COMMIT's round trip; for raw asyncpg, COMMIT;
- other: the wall time less the four: SQLAlchemy's own work (compiled-statement cache
  lookups, sessions, results, greenlet switches), the variant's code and the event loop.

Each is summed over the run and divided by its items; starting and finishing the job are
spread over the items too. A concurrent variant has many items in flight, so its timers
overlap and sum to more than its wall time: its `other` is not computed.
Does not guarantee: uninstrumented speed (each timer adds a microsecond or two per call),
or figures steadier than one run's; the ratios come from the paired rounds.
"""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from unittest.mock import patch

import asyncpg
from sqlalchemy import event

from benchmarks.batch_bench import CONCURRENT, job_runs
from benchmarks.paired import create_job, empty_tables
from benchmarks.runtime import Runtime
from playbook.app.database import get_engine
from playbook.app.models import JobKind
from playbook.upstream.sites import fetch_site
from standardized.services.batch import batch_functions

CATEGORIES = ("upstream fetch", "pool checkout", "statements", "commit", "other")
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Breakdown:
    variant: str
    items: int
    wall_seconds: float
    seconds: dict[str, float]  # summed per category; "other" absent where the timers overlap
    calls: dict[str, int]  # timed calls per category

    def ms_per_item(self, category: str) -> float | None:
        seconds = self.wall_seconds if category == "wall" else self.seconds.get(category)
        return None if seconds is None else 1000 * seconds / self.items


class _Timers:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def add(self, category: str, seconds: float) -> None:
        self.seconds[category] += seconds
        self.calls[category] += 1

    def sync(self, category: str, function: Callable[P, T]) -> Callable[P, T]:
        def timed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(category, time.perf_counter() - started)

        return timed

    def awaited(self, category: str, function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.add(category, time.perf_counter() - started)

        return timed

    def before_cursor_execute(self, connection: Any, *_args: Any) -> None:
        connection.info.setdefault("statement_started", []).append(time.perf_counter())

    def after_cursor_execute(self, connection: Any, *_args: Any) -> None:
        self.add("statements", time.perf_counter() - connection.info["statement_started"].pop())

    def raw_query(self, query: asyncpg.connection.LoggedQuery) -> None:
        self.add("commit" if query.query.strip().upper().startswith("COMMIT") else "statements", query.elapsed)


@contextmanager
def _instrumented(timers: _Timers, raw_connection: asyncpg.Connection) -> Iterator[None]:
    engine = get_engine().sync_engine
    with ExitStack() as stack:
        # Wrappers around the real calls, for these runs only: each still does its work.
        stack.enter_context(patch.object(engine.pool, "connect", timers.sync("pool checkout", engine.pool.connect)))
        stack.enter_context(patch.object(engine.dialect, "do_commit", timers.sync("commit", engine.dialect.do_commit)))
        stack.enter_context(patch.object(batch_functions, "fetch_site", timers.awaited("upstream fetch", fetch_site)))
        for name in ("before_cursor_execute", "after_cursor_execute"):
            listener = getattr(timers, name)
            event.listen(engine, name, listener)
            stack.callback(event.remove, engine, name, listener)
        raw_connection.add_query_logger(timers.raw_query)
        stack.callback(raw_connection.remove_query_logger, timers.raw_query)
        yield


async def measure(runtime: Runtime, *, items: int) -> list[Breakdown]:
    """One instrumented run of each batch variant on a fresh job of `items` items."""
    breakdowns = []
    for variant, run in job_runs(runtime, items).items():
        await empty_tables()
        job_id = await create_job(JobKind.batch, items)
        timers = _Timers()
        with _instrumented(timers, runtime.raw_connection):
            started = time.perf_counter()
            await run(job_id)
            wall = time.perf_counter() - started
            await asyncio.sleep(0)  # asyncpg hands its query log to the loop: let the last entries in
        seconds = {category: timers.seconds[category] for category in CATEGORIES[:-1]}
        if variant not in CONCURRENT:
            seconds["other"] = wall - sum(seconds.values())
        breakdowns.append(
            Breakdown(variant=variant, items=items, wall_seconds=wall, seconds=seconds, calls=dict(timers.calls))
        )
    return breakdowns
