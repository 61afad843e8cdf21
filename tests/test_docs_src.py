"""The docs examples do what their pages say: each runs against real PostgreSQL and its
observations must equal the ones below exactly.

A new example under `docs_src/` is picked up by the fixture and fails until its expected
observations are written here.
"""

import importlib
from collections.abc import AsyncIterator
from datetime import UTC
from types import ModuleType

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from docs_src import example_names
from playbook.app.models import Job

MISSING_GREENLET = (
    "MissingGreenlet: greenlet_spawn has not been called; can't call await_() here. "
    "Was IO attempted in an unexpected place? (Background on this error at: https://sqlalche.me/e/21/xd2s)"
)
METADATA_ITEM_ASSIGNMENT = "'MetaData' object does not support item assignment"
VALUE_TOO_LONG = "(sqlalchemy.dialects.postgresql.asyncpg.Error) value too long for type character varying(16)"
BACKGROUND_FAILURE = "the call raised RuntimeError: the background task failed"
PROVISIONING = (
    "InvalidRequestError: This session is provisioning a new connection; concurrent operations are not permitted "
    "(Background on this error at: https://sqlalche.me/e/21/isce)"
)
ALREADY_FLUSHING = "InvalidRequestError: Session is already flushing"

DETACHED_NOTE = (
    "DetachedInstanceError: Instance <Note at 0x…> is not bound to a Session; attribute refresh operation "
    "cannot proceed (Background on this error at: https://sqlalche.me/e/21/bhk3)"
)
CLOSED_BEFORE_THE_TASK = {
    "request connection while the task runs": "returned",
    "the task reads the committed object": DETACHED_NOTE,
    "response": "202",
}

OBSERVED = {
    "docs_src.versions.request_session_lifetime": {
        # The pinned FastAPI: the default scope keeps the request session open through the tasks.
        "Depends(get_session)": {
            "request connection while the task runs": "held",
            "the task reads the committed object": MISSING_GREENLET,
            "response": "202",
        },
        'Depends(get_session, scope="function")': CLOSED_BEFORE_THE_TASK,
        "async with in the endpoint": CLOSED_BEFORE_THE_TASK,
    },
    "docs_src.catalog.concurrent_flush": {
        "reads gathered on one session": {"outcomes": ["done", PROVISIONING, PROVISIONING], "warnings": []},
        "writes gathered on one session": {
            "outcomes": ["done", ALREADY_FLUSHING, ALREADY_FLUSHING],
            "warnings": [
                "SAWarning: Usage of the 'Session.add()' operation is not currently supported within the "
                "execution stage of the flush process"
            ],
        },
    },
    "docs_src.pitfalls.metadata_is_not_a_column": {
        "type of batch.metadata": "MetaData",
        "same object on every model": True,
        "holds the jobs table": True,
        "the work order's lines": f"TypeError: {METADATA_ITEM_ASSIGNMENT}",
        "declaring a metadata column": (
            "SAWarning: Attribute name 'metadata' should be left reserved for the MetaData instance "
            "when using a Declarative class."
        ),
        "work order log": [
            "Starting batch processing for 2 items",
            f"Error updating final status: {METADATA_ITEM_ASSIGNMENT}",
            "Batch processing completed: 2 succeeded, 0 failed",
        ],
        "work order job": {"status": "processing", "completed_count": 2, "item_results": {}, "ended": False},
        "standard job": {
            "status": "completed",
            "completed_count": 2,
            "item_results": {"alpha.test": "completed", "beta.test": "completed"},
            "ended": True,
        },
    },
    "docs_src.pitfalls.json_mutated_in_place": {
        "changed in place": {},
        "reassigned": {"alpha.test": "completed"},
        "standard: SQL expression": {"alpha.test": "completed"},
        "MutableDict column": {"alpha.test": "completed"},
    },
    "docs_src.pitfalls.flush_without_commit": {
        "session that only closes": "pending",
        "get_background_session()": "processing",
    },
    "docs_src.pitfalls.naive_datetime": {
        "datetime.now()": {
            "zone in memory": None,
            "response schema": "ValidationError: start_time: Input should have timezone info",
            "start_time - created_at": "TypeError: can't subtract offset-naive and offset-aware datetimes",
            "stored instant": "as written, read as UTC",
        },
        "utcnow()": {
            "zone in memory": UTC,
            "response schema": "valid",
            "start_time - created_at": "computed",
            "stored instant": "as written, read as UTC",
        },
    },
    "docs_src.pitfalls.swallowed_status_update": {
        "swallowed": {"status": "processing", "error": None, "ended": False},
        "swallowed log": [f"Error updating final status: {VALUE_TOO_LONG}"],
        "run_job": {"status": "failed", "error": f"DBAPIError: {VALUE_TOO_LONG}", "ended": True},
    },
    "docs_src.pitfalls.cancelled_job": {
        "work order": {"status": "processing", "error": None, "ended": False},
        "standard": {"status": "interrupted", "error": None, "ended": False},
    },
    "docs_src.pitfalls.onupdate_after_commit": {
        "read inside the session": MISSING_GREENLET,
        "read after the session": (
            "DetachedInstanceError: Instance <Job at 0x…> is not bound to a Session; attribute refresh "
            "operation cannot proceed (Background on this error at: https://sqlalche.me/e/21/bhk3)"
        ),
        "awaitable_attrs": "datetime with tzinfo UTC",
    },
    "docs_src.quickstart.demo": {
        "three items": {
            "answer": 202,
            "status when accepted": "pending",
            "read back": {"status": "completed", "done": 3, "error": None},
        },
        "a failing item": {
            "answer": 202,
            "status when accepted": "pending",
            "read back": {"status": "failed", "done": 1, "error": "ValueError: cannot process 'fail-1'"},
        },
        "escaped exceptions": [],
    },
    "docs_src.testing.background_failure_seen_by_clients": {
        "httpx.ASGITransport": BACKGROUND_FAILURE,
        "TestClient": BACKGROUND_FAILURE,
        "uvicorn": {
            "status code": 202,
            "task still running when the client had its answer": True,
            "escaped exceptions": ["RuntimeError: the background task failed"],
        },
    },
}


@pytest.fixture(params=example_names())
def example(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


@pytest.fixture
async def database_left_as_found(database_url: URL, read_engine: AsyncEngine) -> AsyncIterator[URL]:
    """The shared test database, with the jobs an example created removed afterwards: several
    are left `processing` on purpose, and must not look stuck to the tests that run next."""
    async with read_engine.connect() as connection:
        existing = set(await connection.scalars(select(Job.id)))
    yield database_url
    async with read_engine.begin() as connection:
        await connection.execute(delete(Job).where(Job.id.not_in(existing)))


async def test_example_observes_what_its_page_says(example: ModuleType, database_left_as_found: URL) -> None:
    assert example.__name__ in OBSERVED, f"write the expected observations of {example.__name__} here"
    assert await example.observe(database_left_as_found) == OBSERVED[example.__name__]


def test_every_expectation_has_its_example() -> None:
    assert sorted(OBSERVED) == example_names()
