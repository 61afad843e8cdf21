"""The httpx client the services use, bound for the lifetime of the app or worker.

Like the engine, it is created on the running loop at startup and closed at shutdown.
With the simulator mounted in-process, `SimulatorTransport` honours the client's read
timeout the way a network transport would; `httpx.ASGITransport` alone does not.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from playbook.settings import Settings
from playbook.upstream.simulator import UpstreamSimulator


class SimulatorTransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(timeout):
                return await super().handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {timeout} s", request=request) from exc


_bound_client: httpx.AsyncClient | None = None


def get_http_client() -> httpx.AsyncClient:
    if _bound_client is None:
        raise RuntimeError("no upstream client is bound: run inside the app lifespan or a worker")
    return _bound_client


@asynccontextmanager
async def bound_http_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to the upstream simulator, bound for background code."""
    global _bound_client
    simulator = UpstreamSimulator(latency_ms=settings.upstream_latency_ms)
    async with httpx.AsyncClient(
        transport=SimulatorTransport(app=simulator), timeout=settings.upstream_timeout
    ) as client:
        _bound_client = client
        try:
            yield client
        finally:
            _bound_client = None
