"""What outlives what: the request session ends before the background task starts, a
background session's objects stay readable after it closes, the app's engine has closed
every connection once the app has stopped, and an app run again on a new event loop gets
an engine of that loop (R1, R3, R8).

Each rests on a line or two (`scope="function"`, `expire_on_commit=False`, the engine made
and disposed in the lifespan) whose absence nothing else in the spec would notice.
"""

import asyncio
import uuid
from collections.abc import Iterable

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from playbook.app.database import bound_engine, get_engine
from playbook.app.factory import create_app
from playbook.app.models import Job, JobStatus
from playbook.app.settings import Settings, Variant
from playbook.harness.server import serve_in_process
from standardized.db import get_background_session
from standardized.executor import BackgroundExecutor
from tests.helpers import run_to_end

BACKENDS = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.mark.standardized
async def test_request_session_closes_before_the_background_task_starts(
    database_url: URL, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserted: list[Job] = []  # held here, so that closing their session detaches them (no weak reference lost)
    happened: list[str] = []

    def on_inserted(_session: Session, instance: object) -> None:
        # Only the route inserts a Job through a session; background work writes with Core statements.
        if isinstance(instance, Job):
            inserted.append(instance)

    def on_detached(_session: Session, instance: object) -> None:
        if any(instance is job for job in inserted):
            happened.append("request session closed")

    def on_statement(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("UPDATE jobs") and inserted:
            happened.append("task wrote")

    # The background task hands the job to the app's runner: it starts once the response is sent.
    hand_over = BackgroundExecutor.start

    async def on_background_task(executor: BackgroundExecutor, job_ids: Iterable[uuid.UUID]) -> None:
        happened.append("background task started")
        await hand_over(executor, job_ids)

    monkeypatch.setattr(BackgroundExecutor, "start", on_background_task)

    listeners = (("pending_to_persistent", on_inserted), ("persistent_to_detached", on_detached))
    for name, listener in listeners:
        event.listen(Session, name, listener)
    try:
        async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
            event.listen(get_engine().sync_engine, "before_cursor_execute", on_statement)
            job = await run_to_end(app, "/api/v3/batches", {"items": ["alpha.test"]})
    finally:
        for name, listener in listeners:
            event.remove(Session, name, listener)

    assert job["status"] == "completed"
    # scope="function": the session is gone before the response, so the task cannot reach it.
    assert happened[:2] == ["request session closed", "background task started"], happened
    assert "task wrote" in happened, happened


@pytest.mark.standardized
async def test_objects_of_a_background_session_stay_readable_after_it_closes(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    job_id = uuid.uuid4()
    async with AsyncSession(read_engine) as session:
        session.add(Job(id=job_id, kind="batch", status=JobStatus.completed))
        await session.commit()

    async with bound_engine(database_url, settings):
        async with get_background_session() as session:
            job = await session.get(Job, job_id)
            assert job is not None
            job.error = "read after close"
        # Committed and closed: expire_on_commit=False kept what was loaded, so no query is needed (R3, F7).
        assert (job.id, job.status, job.error) == (job_id, JobStatus.completed, "read after close")


async def test_every_connection_of_the_app_is_closed_when_it_stops(
    variant: Variant, database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    before = await _backends(read_engine)
    async with serve_in_process(create_app(variant, database_url=database_url, settings=settings)) as app:
        assert (await app.client.get("/health")).status_code == 200
        apps = await _backends(read_engine) - before
    assert apps, "the app's health check kept no connection in its pool"

    # Disposed at shutdown, on the loop that opened them (R8): the server sees each connection end.
    assert await _still_open(read_engine, apps) == set()


async def _backends(engine: AsyncEngine) -> set[int]:
    """The server processes of every other connection to the test database."""
    async with engine.connect() as connection:
        return set((await connection.scalars(BACKENDS)).all())


async def _still_open(engine: AsyncEngine, backends: set[int], *, within: float = 5.0) -> set[int]:
    """Which of `backends` are still connected: none as soon as all have ended, else those left after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (left := backends & await _backends(engine)) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return left


async def test_the_app_runs_again_on_a_new_event_loop(variant: Variant, database_url: URL, settings: Settings) -> None:
    # One run after the other, each on an event loop of its own, as successive asyncio.run()
    # calls (a CLI, a worker restarting) would: a connection of the first loop must not serve the second (F5).
    first, second = [
        await asyncio.to_thread(_health_on_a_loop_of_its_own, variant, database_url, settings) for _ in "12"
    ]

    assert first == second == {"status": "ok", "variant": variant, "auth": "open"}


def _health_on_a_loop_of_its_own(variant: Variant, database_url: URL, settings: Settings) -> object:
    async def serve_and_ask() -> object:
        async with serve_in_process(create_app(variant, database_url=database_url, settings=settings)) as app:
            return (await app.client.get("/health")).json()

    return asyncio.run(serve_and_ask())
