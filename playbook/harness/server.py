"""Serving an app the way production does, inside the current event loop.

Real uvicorn on 127.0.0.1 and real HTTP: a background task's exception is not re-raised
into the client (as `TestClient` and `httpx.ASGITransport` do) but logged by uvicorn
as "Exception in ASGI application", which is where production sees it. `EscapedExceptions`
collects those, and `InFlight` tells when every request, background tasks included, is done;
with the jobs an app's executor runs beside requests (`app.state.executor`), the app is idle.
"""

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from playbook.helpers import loopback_socket

# Longer than any background task of the spec runs; a task that hangs fails the caller instead.
IDLE_TIMEOUT = 60.0


class InFlight:
    """ASGI wrapper that counts HTTP calls still running; Starlette runs a response's
    background tasks inside the call, so zero means all tasks have ended."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self._running += 1
        self._idle.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    @property
    def idle(self) -> bool:
        return self._running == 0

    async def wait_idle(self) -> None:
        await self._idle.wait()


class EscapedExceptions(logging.Handler):
    """Collects the exceptions logged with a traceback at ERROR level on the logger it is
    attached to; on uvicorn's, the ones nothing in the app handled."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.exceptions: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exceptions.append(record.exc_info[1])


class JobsRunningHere(Protocol):
    """What an app keeps on `app.state.executor`: the jobs it runs beside requests."""

    @property
    def idle(self) -> bool: ...

    async def wait_idle(self) -> None: ...


@dataclass
class RunningApp:
    base_url: str
    client: httpx.AsyncClient
    in_flight: InFlight
    escaped: EscapedExceptions = field(repr=False)
    app: ASGIApp = field(repr=False)

    @property
    def escaped_exceptions(self) -> list[BaseException]:
        return self.escaped.exceptions

    @property
    def jobs(self) -> JobsRunningHere | None:
        state = getattr(self.app, "state", None)
        return getattr(state, "executor", None)

    @property
    def idle(self) -> bool:
        """No request, background task or job is running (the caller's own finished requests aside)."""
        return self.in_flight.idle and (self.jobs is None or self.jobs.idle)

    async def wait_idle(self) -> None:
        """Wait until every request, background task and job has finished; `TimeoutError` after `IDLE_TIMEOUT` s."""
        async with asyncio.timeout(IDLE_TIMEOUT):
            while not self.idle:
                await self.in_flight.wait_idle()
                if self.jobs is not None:
                    await self.jobs.wait_idle()


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as asked when nothing is in flight.

    uvicorn looks at `should_exit` every 0.1 s, and its shutdown gives open connections
    0.1 s before it waits for them. The spec serves an app per test, and those tenths of a
    second added up to more than a minute; with requests or tasks in flight the shutdown is
    uvicorn's own.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    def exit(self) -> None:
        self.should_exit = True
        self._exit_requested.set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn exits the process when the app's lifespan fails; here the caller gets an error.
        try:
            await super().startup(sockets=sockets)
        except SystemExit as exc:
            raise RuntimeError("the app did not start: its lifespan failed (see the log above)") from exc

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            # Ticks as uvicorn does (its date header changes each tenth tick), but wakes on `exit()`.
            counter = (counter + 1) % 864000
            with suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._exit_requested.wait()

    def _in_flight(self) -> bool:
        return bool(self.server_state.connections or self.server_state.tasks)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # A connection the client has just closed is seen closed a few loop iterations later:
        # look for up to 0.1 s (uvicorn has no event to wait on).
        for _ in range(20):
            if not self._in_flight():
                break
            await asyncio.sleep(0.005)
        if self._in_flight():
            await super().shutdown(sockets)
            return
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


@asynccontextmanager
async def serve_in_process(app: ASGIApp) -> AsyncIterator[RunningApp]:
    """Run `app` under uvicorn on a free 127.0.0.1 port for the duration of the block."""
    sock = loopback_socket()
    host, port = sock.getsockname()
    in_flight = InFlight(app)
    server = _PromptServer(uvicorn.Config(in_flight, log_config=None, lifespan="on", access_log=False))
    escaped = EscapedExceptions()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(escaped)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises why it did not start
            await asyncio.sleep(0.01)
        # No keep-alive: each request is a client of its own, not queued behind a connection
        # still busy with the previous response's background tasks.
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30, limits=no_keepalive) as client:
            yield RunningApp(
                base_url=f"http://{host}:{port}", client=client, in_flight=in_flight, escaped=escaped, app=app
            )
    finally:
        server.exit()
        try:
            await serving
        finally:
            uvicorn_log.removeHandler(escaped)
            sock.close()
