"""How long a request's session lives beside the response's background tasks.

A `yield` dependency's exit code, here the `async with` that closes the request session,
runs either after the background tasks or before the response, by FastAPI release and the
dependency's scope. This serves one small app under uvicorn per way of getting the
request session and hands a background task the object the route committed, as legacy
code does. The task records what reading it does (F2 `MissingGreenlet` while the session
is open, F7 `DetachedInstanceError` once it closed) and whether the request's connection
is still checked out while it runs (F10b).

It imports only FastAPI, SQLAlchemy, uvicorn and httpx: `make matrix` runs it unchanged on
older releases (`python -m docs_src.versions.request_session_lifetime` prints what it
observed as JSON). It does not show what a task does with a closed session (F8).
"""

import asyncio
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

import httpx
import uvicorn
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import QueuePool

TASK_TIMEOUT = 10.0


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "request_session_lifetime_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


def session_dependency(engine: AsyncEngine) -> Callable[[], AsyncIterator[AsyncSession]]:
    async def get_session() -> AsyncIterator[AsyncSession]:
        # The exit of this block is the dependency's exit code: when it runs is the question.
        async with AsyncSession(engine) as session:
            yield session

    return get_session


def default_scope(get_session: Callable[[], AsyncIterator[AsyncSession]]) -> Any:
    return Annotated[AsyncSession, Depends(get_session)]


def function_scope(get_session: Callable[[], AsyncIterator[AsyncSession]]) -> Any:
    # --8<-- [start:function_scope]
    # FastAPI 0.121 or later; older releases raise TypeError (Depends() has no `scope`).
    SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
    # --8<-- [end:function_scope]
    return SessionDep


async def add_note(session: AsyncSession) -> tuple[Note, int]:
    note = Note(text="handed to a task")
    session.add(note)
    # The commit expires every attribute of `note` (expire_on_commit=True, the default).
    await session.commit()
    # A read after the commit begins a new transaction: the session holds a connection again.
    queued = await session.scalar(select(func.count()).select_from(Note))
    return note, queued or 0


def app_reading_later(
    engine: AsyncEngine, session_dep: Any | None, seen: dict[str, str], done: asyncio.Event
) -> FastAPI:
    """The legacy mistake: the route hands its committed object to a background task."""
    app = FastAPI()

    async def read_later(note: Note) -> None:
        seen["request connection while the task runs"] = "held" if checked_out(engine) else "returned"
        try:
            # An expired attribute: reading it needs a query nobody awaits.
            seen["the task reads the committed object"] = f"read {note.text!r}"
        except Exception as exc:
            seen["the task reads the committed object"] = describe(exc)
        done.set()

    if session_dep is None:

        @app.post("/notes", status_code=202)
        async def create_note_without_dependency(background_tasks: BackgroundTasks) -> dict[str, int]:
            # --8<-- [start:any_release]
            # No `yield` dependency: the block closes the session before the endpoint returns,
            # whatever the release does with dependency exit code.
            async with AsyncSession(engine) as session:
                note, queued = await add_note(session)
            # --8<-- [end:any_release]
            background_tasks.add_task(read_later, note)
            return {"queued": queued}

    else:

        @app.post("/notes", status_code=202)
        # The annotation is what each arrangement varies, so it is built at run time.
        async def create_note(session: session_dep, background_tasks: BackgroundTasks) -> dict[str, int]:  # type: ignore[valid-type]
            note, queued = await add_note(session)
            background_tasks.add_task(read_later, note)
            return {"queued": queued}

    return app


def checked_out(engine: AsyncEngine) -> int:
    """Connections taken from the engine's pool and not yet returned."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        raise TypeError(f"expected the default queue pool, got {type(pool).__name__}")
    return pool.checkedout()


def describe(exc: BaseException) -> str:
    """`Class: first line`, with memory addresses masked so runs compare equal."""
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {re.sub(r'0x[0-9a-f]+', '0x…', first_line)}"


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """`app` under uvicorn on a free 127.0.0.1 port, and a client for it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # log_config=None: uvicorn leaves the process's logging as it found it.
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def observe_one(database_url: URL, scope: Callable[..., Any] | None) -> dict[str, str]:
    engine = create_async_engine(database_url)
    seen: dict[str, str] = {}
    done = asyncio.Event()
    try:
        session_dep = scope(session_dependency(engine)) if scope else None
    except TypeError as exc:
        return {"declaring the dependency": describe(exc)}
    try:
        async with served(app_reading_later(engine, session_dep, seen, done)) as client:
            response = await client.post("/notes")
            seen["response"] = str(response.status_code)
            await asyncio.wait_for(done.wait(), TASK_TIMEOUT)
    finally:
        await engine.dispose()
    return seen


async def observe(database_url: URL) -> dict[str, object]:
    schema_engine = create_async_engine(database_url)
    async with schema_engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        return {
            "Depends(get_session)": await observe_one(database_url, default_scope),
            'Depends(get_session, scope="function")': await observe_one(database_url, function_scope),
            "async with in the endpoint": await observe_one(database_url, None),
        }
    finally:
        async with schema_engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
        await schema_engine.dispose()


def main() -> None:
    """Print the installed releases and what was observed, as JSON, for `make matrix`."""
    observed = asyncio.run(observe(make_url(os.environ["DATABASE_URL"])))
    releases = {name: version(name) for name in ("fastapi", "starlette", "sqlalchemy")}
    print(json.dumps({"releases": releases, "observed": observed}))


if __name__ == "__main__":
    main()
