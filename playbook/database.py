"""Engines, databases and the pool figures the harness reports.

The engine of a running app is created in its lifespan (or a worker's startup) and
bound here, so background code on the same event loop can reach it without a session
being handed over. It is disposed and unbound at shutdown (rule R8). This module does not
create sessions: how a session is configured is the lesson of each variant.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from playbook.embedded import start_embedded_server
from playbook.models import Base
from playbook.settings import Settings


def resolve_server_url(settings: Settings) -> URL:
    """The URL of the server's maintenance database: `DATABASE_URL`, else the embedded server."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername != "postgresql+asyncpg":
            raise ValueError(f"DATABASE_URL must use postgresql+asyncpg://, got {url.drivername}://")
        return url
    return start_embedded_server(settings.pgdata)


def asyncpg_connect_args(url: URL) -> dict:
    """Keyword arguments for `asyncpg.connect` to the database of `url`."""
    return {
        "user": url.username,
        "password": url.password,
        "host": url.host or url.query.get("host"),
        "port": url.port,
        "database": url.database,
    }


async def create_database(server_url: URL, name: str, *, replace: bool) -> URL:
    """Create database `name` on the server (dropping it first when `replace`); return its URL."""
    connection = await asyncpg.connect(**asyncpg_connect_args(server_url))
    try:
        if replace:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_url.set(database=name)


async def drop_database(server_url: URL, name: str) -> None:
    connection = await asyncpg.connect(**asyncpg_connect_args(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def create_schema(url: URL) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


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

    def _on_checkout(self, *_args) -> None:
        self.checked_out += 1
        self.peak = max(self.peak, self.checked_out)

    def _on_checkin(self, *_args) -> None:
        self.checked_out -= 1


_bound_engine: AsyncEngine | None = None
_bound_pool_stats = PoolStats()
_background_slots: asyncio.Semaphore | None = None


def get_engine() -> AsyncEngine:
    """The engine of the app or worker running in this process; fails outside one."""
    if _bound_engine is None:
        raise RuntimeError("no engine is bound: run inside the app lifespan or a worker (bound_engine)")
    return _bound_engine


def get_pool_stats() -> PoolStats:
    """Checkout figures of the bound engine's pool."""
    return _bound_pool_stats


def get_background_slots() -> asyncio.Semaphore:
    """How many connections background sessions may hold at once: the pool less those reserved for requests."""
    if _background_slots is None:
        raise RuntimeError("no engine is bound: run inside the app lifespan or a worker (bound_engine)")
    return _background_slots


@asynccontextmanager
async def bound_engine(url: URL, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Create the engine on the running loop, bind it for background code, dispose it at exit."""
    global _bound_engine, _bound_pool_stats, _background_slots
    if _bound_engine is not None:
        raise RuntimeError("an engine is already bound in this process")
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
    )
    _bound_pool_stats = PoolStats()
    _bound_pool_stats.attach(engine)
    pool_capacity = settings.pool_size + settings.max_overflow
    _background_slots = asyncio.Semaphore(max(1, pool_capacity - settings.reserved_for_requests))
    _bound_engine = engine
    try:
        yield engine
    finally:
        _bound_engine = _background_slots = None
        await engine.dispose()


async def prepare_database(settings: Settings, name: str, *, replace: bool) -> URL:
    """Resolve the server, create database `name` with the schema, return its URL."""
    url = await create_database(resolve_server_url(settings), name, replace=replace)
    await create_schema(url)
    return url
