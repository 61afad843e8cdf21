"""The httpx client the services use, bound for the lifetime of the app or worker.

Like the engine, it is created on the running loop at startup and closed at shutdown.
With the simulator mounted in-process, `SimulatorTransport` honours the client's read
timeout the way a network transport would; `httpx.ASGITransport` alone does not. With
`upstream_url` set (load tests), `ServedSimulatorTransport` sends every request over the
network to the simulator served there instead.
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


class ServedSimulatorTransport(httpx.AsyncBaseTransport):
    """Sends every request to the simulator served at `upstream_url`, over real HTTP.

    Only the address changes: the `Host` header still names the site asked for
    (`fail-1.test`), which is what the simulator answers by, and the response keeps the
    original request, so callers see the URL they asked for.
    """

    def __init__(self, upstream_url: str) -> None:
        self._upstream = httpx.URL(upstream_url)
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(scheme=self._upstream.scheme, host=self._upstream.host, port=self._upstream.port),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._network.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._network.aclose()


def _upstream_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    if settings.upstream_url:
        return ServedSimulatorTransport(settings.upstream_url)
    return SimulatorTransport(app=UpstreamSimulator(latency_ms=settings.upstream_latency_ms))


_bound_client: httpx.AsyncClient | None = None


def get_http_client() -> httpx.AsyncClient:
    if _bound_client is None:
        raise RuntimeError("no upstream client is bound: run inside the app lifespan or a worker")
    return _bound_client


@asynccontextmanager
async def bound_http_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to the upstream simulator, bound for background code."""
    global _bound_client
    async with httpx.AsyncClient(transport=_upstream_transport(settings), timeout=settings.upstream_timeout) as client:
        _bound_client = client
        try:
            yield client
        finally:
            _bound_client = None
