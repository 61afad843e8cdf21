"""What failures say, and to whom: short errors on jobs and in the API, the details in the log.

A job's `error` is a class and one line, never a statement, its parameters or a path;
`/health` says ok or unavailable and nothing more; a database restart costs no request an
error, because the pool checks a connection before handing it out; and a database made by
an older version of the models is refused with the columns it lacks.
"""

import asyncio
import logging
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from playbook.app.database import OutdatedSchema, create_schema
from playbook.app.errors import describe_failure
from playbook.app.factory import create_app
from playbook.app.settings import Settings
from playbook.harness.databases import create_database, drop_database, resolve_server_url
from playbook.harness.server import RunningApp, serve_in_process
from tests.helpers import run_to_end

BATCHES = "/api/v3/batches"


async def test_a_database_error_is_described_by_its_first_line(read_engine: AsyncEngine) -> None:
    async with AsyncSession(read_engine) as session:
        with pytest.raises(Exception) as raised:
            await session.execute(
                text("INSERT INTO jobs (id, kind, owner, params) VALUES (:id, :kind, 'open', '{}')"),
                {"id": uuid.uuid4(), "kind": "secret-parameter-" + "x" * 40},
            )
    full = str(raised.value)
    assert "[SQL: INSERT INTO jobs" in full and "secret-parameter" in full, "SQLAlchemy's message holds both"

    described = describe_failure(raised.value)
    assert described == (
        "DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) value too long for type character varying(32)"
    )


def test_an_os_error_is_described_without_its_path() -> None:
    error = FileNotFoundError(2, "No such file or directory", "/srv/secrets/api-keys.txt")
    assert describe_failure(error) == "FileNotFoundError: No such file or directory"


def test_a_long_message_is_cut_and_a_group_names_each_failure() -> None:
    group = ExceptionGroup("workers", [RuntimeError("a\nsecond line"), ValueError("b" * 1000)])
    described = describe_failure(group)

    assert described.startswith("RuntimeError: a; ValueError: bbb")
    assert "second line" not in described
    assert len(described) <= 300


def innermost(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions a group holds, those of the groups it holds included."""
    return [
        leaf
        for inner in group.exceptions
        for leaf in (innermost(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    ]


@pytest.mark.standardized
async def test_a_job_failed_by_the_database_records_one_line_and_logs_the_rest(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async with read_engine.begin() as connection:
        await connection.execute(
            text("ALTER TABLE batch_items ADD CONSTRAINT refuses_secret CHECK (domain <> 'secret-domain.test')")
        )
    try:
        async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
            job = await run_to_end(app, BATCHES, {"items": ["secret-domain.test"]})
    finally:
        async with read_engine.begin() as connection:
            await connection.execute(text("ALTER TABLE batch_items DROP CONSTRAINT refuses_secret"))

    assert job["status"] == "failed"
    assert job["error"] == (
        "IntegrityError: (sqlalchemy.dialects.postgresql.asyncpg.CheckViolationError) new row for relation"
        ' "batch_items" violates check constraint "refuses_secret"'
    )
    [logged] = [record for record in caplog.records if record.getMessage() == f"job {job['id']} failed"]
    assert logged.levelno == logging.ERROR
    # The workers' TaskGroups raised it: the log keeps the whole exception, statement included.
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], ExceptionGroup)
    [logged_error] = innermost(logged.exc_info[1])
    assert "[SQL: INSERT INTO batch_items" in str(logged_error)


@pytest.mark.standardized
async def test_health_says_unavailable_and_nothing_of_why(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    missing = resolve_server_url(settings).set(database=f"playbook_missing_{uuid.uuid4().hex[:8]}")
    async with serve_in_process(create_app("standardized", database_url=missing, settings=settings)) as app:
        response = await app.client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "variant": "standardized", "auth": "open"}
    assert any(record.getMessage() == "health: the database does not answer" for record in caplog.records)


async def test_connections_the_server_dropped_cost_no_request_an_error(
    app: RunningApp, read_engine: AsyncEngine
) -> None:
    unknown_job = f"/api/v3/jobs/{uuid.uuid4()}"
    # Three reads at once leave three connections in the pool.
    warm = await asyncio.gather(*(app.client.get(unknown_job) for _ in range(3)))
    assert [response.status_code for response in warm] == [404] * 3
    async with read_engine.connect() as connection:
        terminated = await connection.scalar(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert terminated >= 1, "the app's pool held connections to drop"

    assert [(await app.client.get(unknown_job)).status_code for _ in range(4)] == [404] * 4
    assert (await app.client.get("/health")).status_code == 200


async def test_a_database_of_an_older_version_is_refused_with_the_columns_it_lacks(settings: Settings) -> None:
    server = resolve_server_url(settings)
    name = f"playbook_old_{uuid.uuid4().hex[:8]}"
    url = await create_database(server, name, replace=True)
    try:
        await create_schema(url)
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("ALTER TABLE jobs DROP COLUMN owner"))
            await connection.execute(text("ALTER TABLE contacts DROP COLUMN owner"))
        await engine.dispose()

        with pytest.raises(OutdatedSchema) as refused:
            await create_schema(url)
    finally:
        await drop_database(server, name)
    assert str(refused.value) == (
        f"database {name!r} was created by an older version of this project: it has no column jobs.owner,"
        " contacts.owner. Drop it (`make db-reset`; its jobs are lost) or set DATABASE_NAME to a new one."
    )
