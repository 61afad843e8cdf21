"""Which PostgreSQL server the harness uses, and the databases it creates on it.

`DATABASE_URL` names a server; without it the embedded server starts. The tests, the
compare runner, the benchmarks and `make serve` each create a database of their own there.
"""

import contextlib
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from playbook.app.database import create_schema
from playbook.app.settings import Settings
from playbook.harness.embedded import start_embedded_server


def resolve_server_url(settings: Settings) -> URL:
    """The URL of the server's maintenance database: `DATABASE_URL`, else the embedded server."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername != "postgresql+asyncpg":
            raise ValueError(f"DATABASE_URL must use postgresql+asyncpg://, got {url.drivername}://")
        return url
    return start_embedded_server(settings.pgdata)


def asyncpg_connect_args(url: URL) -> dict[str, Any]:
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
            # `make serve` and `make worker` started together may both get here: one creates it.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
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


async def prepare_database(settings: Settings, name: str, *, replace: bool) -> URL:
    """Resolve the server, create database `name` with the schema, return its URL."""
    url = await create_database(resolve_server_url(settings), name, replace=replace)
    await create_schema(url)
    return url
