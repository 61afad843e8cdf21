"""Fixtures for the one spec both variants must pass.

Each test gets the variant's app served by real uvicorn on 127.0.0.1, on a database
created for this run. Background exceptions are collected from uvicorn's log, the way
production sees them, never re-raised into the test client.
"""

import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from playbook.app.database import create_schema
from playbook.app.factory import create_app
from playbook.app.settings import VARIANTS, Settings, Variant
from playbook.harness.databases import (
    create_database,
    drop_database,
    resolve_server_url,
)
from playbook.harness.server import RunningApp, serve_in_process


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fails_on_legacy(*catalog_ids, reason): the legacy run is a strict xfail naming the catalog failures",
    )


@pytest.fixture(scope="session")
def settings() -> Settings:
    # A short upstream timeout keeps the timeout scenarios quick; the reapers sweep once, at startup.
    return Settings(upstream_timeout=0.5, reaper_interval=3600)


@pytest.fixture(scope="session")
async def database_url(settings: Settings) -> AsyncIterator[URL]:
    server_url = resolve_server_url(settings)
    name = f"playbook_test_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name, replace=True)
    await create_schema(url)
    yield url
    await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def read_engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    """An engine apart from the app's, to read back what was persisted."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture(params=[pytest.param(name, marks=getattr(pytest.mark, name)) for name in VARIANTS])
def variant(request: pytest.FixtureRequest) -> Variant:
    expected = request.node.get_closest_marker("fails_on_legacy")
    if request.param == "legacy" and expected is not None:
        catalog_ids = ", ".join(expected.args)
        request.applymarker(
            pytest.mark.xfail(
                strict=True, raises=AssertionError, reason=f"legacy: {catalog_ids}: {expected.kwargs['reason']}"
            )
        )
    return cast(Variant, request.param)


@pytest.fixture
async def app(variant: Variant, database_url: URL, settings: Settings) -> AsyncIterator[RunningApp]:
    async with serve_in_process(create_app(variant, database_url=database_url, settings=settings)) as running:
        yield running
