"""Engines, databases and the pool figures the harness reports.

The engine of a running app is created in its lifespan (or a worker's startup) and
bound here, so background code on the same event loop can reach it without a session
being handed over. It is disposed and unbound at shutdown (rule R8). Its pool checks each
connection before handing it out (`pool_pre_ping`), so a database restart costs no request
an error. This module does not create sessions: how a session is configured is the lesson
of each variant.

The schema is created with `create_all`, which adds missing tables and never changes
existing ones: a database created by an older version of the models is refused with
`OutdatedSchema`, which names the missing columns, rather than failing on first use. The
job queue's tables (procrastinate's schema, of the pinned version) are created with them.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from playbook.app.models import Base
from playbook.app.settings import Settings


class OutdatedSchema(RuntimeError):
    """The database holds tables of an older version of the models."""


async def create_schema(url: URL) -> None:
    """Create the missing tables, the queue's included; raise `OutdatedSchema` if existing ones lack columns."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            # One process at a time: an app and a worker starting together must not both create a table.
            await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('playbook schema'))"))
            await connection.run_sync(Base.metadata.create_all)
            missing = await connection.run_sync(missing_columns)
            await _create_queue_schema(connection)
    finally:
        await engine.dispose()
    if missing:
        raise OutdatedSchema(
            f"database {url.database!r} was created by an older version of this project: it has no column"
            f" {', '.join(missing)}. Drop it (`make db-reset`; its jobs are lost) or set DATABASE_NAME to a new one."
        )


def missing_columns(connection: Connection) -> list[str]:
    """`table.column` for every column of the models that the database's tables lack."""
    inspector = inspect(connection)
    missing: list[str] = []
    for table in Base.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{column.name}" for column in table.columns if column.name not in present]
    return missing


async def _create_queue_schema(connection: AsyncConnection) -> None:
    if await connection.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None:
        return
    # The schema is a script of many statements: asyncpg runs it unprepared, in this transaction.
    raw = await connection.get_raw_connection()
    await raw.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]


@dataclass
class PoolStats:
    """Connections checked out of one engine's pool: now and the peak since the last reset."""

    checked_out: int = 0
    peak: int = 0

    def reset_peak(self) -> None:
        self.peak = self.checked_out

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "checkout", self._on_checkout)
        event.listen(engine.sync_engine, "checkin", self._on_checkin)

    def _on_checkout(self, *_args: object) -> None:
        self.checked_out += 1
        self.peak = max(self.peak, self.checked_out)

    def _on_checkin(self, *_args: object) -> None:
        self.checked_out -= 1


_bound_engine: AsyncEngine | None = None
_bound_settings: Settings | None = None
_bound_pool_stats = PoolStats()
_background_slots: asyncio.Semaphore | None = None


def get_engine() -> AsyncEngine:
    """The engine of the app or worker running in this process; fails outside one."""
    if _bound_engine is None:
        raise RuntimeError("no engine is bound: run inside the app lifespan or a worker (bound_engine)")
    return _bound_engine


def get_bound_settings() -> Settings:
    """The settings the engine of this process was bound with: what background code runs by."""
    if _bound_settings is None:
        raise RuntimeError("no engine is bound: run inside the app lifespan or a worker (bound_engine)")
    return _bound_settings


def get_pool_stats() -> PoolStats:
    """Checkout figures of the bound engine's pool."""
    return _bound_pool_stats


# Set while the current task (or a task it started) holds a background slot.
_holding_background_slot: ContextVar[bool] = ContextVar("holding_background_slot", default=False)


class NestedBackgroundSessionError(RuntimeError):
    """A background session was opened while the same task already held one."""


@asynccontextmanager
async def background_slot() -> AsyncIterator[None]:
    """Hold one of the pool connections background work may use, for one session's lifetime.

    The slots are the pool's connections less `RESERVED_FOR_REQUESTS`, so requests always
    find a connection. A slot is not reentrant: a task that opens a second background
    session while holding one (directly, or by awaiting tasks it started inside the block)
    would wait for a slot it may itself be keeping, and with every slot taken that wait never
    ends. That is refused here, at once, instead of deadlocking later under load.
    """
    if _background_slots is None:
        raise RuntimeError("no engine is bound: run inside the app lifespan or a worker (bound_engine)")
    if _holding_background_slot.get():
        raise NestedBackgroundSessionError(
            "a background session was opened inside another one: close the first before opening the next"
            " (one session per operation, rule R1)"
        )
    async with _background_slots:
        holding = _holding_background_slot.set(True)
        try:
            yield
        finally:
            _holding_background_slot.reset(holding)


@asynccontextmanager
async def bound_engine(url: URL, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Create the engine on the running loop, bind it for background code, dispose it at exit."""
    global _bound_engine, _bound_settings, _bound_pool_stats, _background_slots
    if _bound_engine is not None:
        raise RuntimeError("an engine is already bound in this process")
    background_slots = asyncio.Semaphore(settings.background_connections)
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        # A connection the server closed (a restart, say) is replaced before a request gets it.
        pool_pre_ping=True,
    )
    _bound_pool_stats = PoolStats()
    _bound_pool_stats.attach(engine)
    _background_slots = background_slots
    _bound_engine, _bound_settings = engine, settings
    try:
        yield engine
    finally:
        _bound_engine = _bound_settings = _background_slots = None
        await engine.dispose()
