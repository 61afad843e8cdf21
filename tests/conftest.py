"""Fixtures for the one spec both variants must pass.

Each test gets the variant's app served by real uvicorn on 127.0.0.1, on a database
created for this run. Background exceptions are collected from uvicorn's log, the way
production sees them, never re-raised into the test client. A legacy run marked
`fails_on_legacy` is a strict xfail that holds only if the failures it names left their
signatures (`tests/legacy_failures.py`).
"""

import logging
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Generator, Iterator
from typing import cast

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from playbook.app.database import create_schema
from playbook.app.factory import create_app
from playbook.app.models import utcnow
from playbook.app.settings import VARIANTS, Settings, Variant
from playbook.harness.databases import (
    create_database,
    drop_database,
    resolve_server_url,
)
from playbook.harness.server import RunningApp, serve_in_process
from tests.helpers import KEY_A, KEY_B
from tests.legacy_failures import Evidence

EVIDENCE = pytest.StashKey[Evidence]()

# The property tests draw the same examples on every run, so a red build is one anyone
# can reproduce; HYPOTHESIS_PROFILE=explore draws new ones each run. No deadline in either:
# Hypothesis's default (200 ms an example) would be a timing assertion no test states, red
# on a loaded machine.
hypothesis_settings.register_profile("repeatable", derandomize=True, deadline=None)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fails_on_legacy(*catalog_ids, reason): the legacy run is a strict xfail naming the catalog failures",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A legacy xfail holds only if every failure its mark names left its signature."""
    report = yield
    evidence = item.stash.get(EVIDENCE, None)
    if call.when != "call" or evidence is None:
        return report
    expected = item.get_closest_marker("fails_on_legacy")
    if hasattr(report, "wasxfail") and expected is not None:
        missing = evidence.missing(expected.args)
        if missing:
            report.outcome = "failed"
            report.longrepr = "\n".join(
                [
                    f"legacy failed, but not the way its mark names ({', '.join(expected.args)}); not seen:",
                    *(f"  {absent}" for absent in missing),
                    "what it failed on instead:",
                    str(report.longrepr),
                ]
            )
            del report.wasxfail
    evidence.release()
    return report


@pytest.fixture(scope="session")
def settings() -> Settings:
    # A short upstream timeout keeps the timeout scenarios quick; the reapers and the recovery
    # sweep run once, at startup, so that no sweep holds a connection while a test counts them.
    # The spec polls jobs as fast as it can: the rate limit is tested on its own (tests/test_limits.py).
    return Settings(
        upstream_timeout=0.5,
        reaper_interval=3600,
        heartbeat_interval=3600,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
    )


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


@pytest.fixture(autouse=True)
def legacy_failure_evidence(request: pytest.FixtureRequest) -> Iterator[None]:
    """On a legacy test, collect what the failures leave behind: logged exceptions, warnings, jobs."""
    if request.node.get_closest_marker("legacy") is None:
        yield
        return
    evidence = Evidence(database_url=request.getfixturevalue("database_url"), started_at=utcnow())
    logging.getLogger().addHandler(evidence.log)
    try:
        # Notes the warnings that tests let through ("always"), instead of printing them.
        with warnings.catch_warnings():
            warnings.showwarning = evidence.note_warning
            request.node.stash[EVIDENCE] = evidence
            yield
    finally:
        # Released once the test's outcome is known (pytest_runtest_makereport); here if it never ran.
        evidence.release()


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


@pytest.fixture
async def keyed_app(variant: Variant, database_url: URL, settings: Settings) -> AsyncIterator[RunningApp]:
    """The variant's app with API keys: `KEY_A` and `KEY_B` (tests/helpers.py), each an owner."""
    keyed = settings.model_copy(update={"api_keys": [KEY_A, KEY_B]})
    async with serve_in_process(create_app(variant, database_url=database_url, settings=keyed)) as running:
        yield running
