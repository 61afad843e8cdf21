"""The httpx transports that put the simulator where the services' client sends requests.

With the simulator mounted in-process, `SimulatorTransport` honours the client's read
timeout the way a network transport would; `httpx.ASGITransport` alone does not. With
`upstream_url` set (load tests), `ServedSimulatorTransport` sends every request over the
network to the simulator served there instead.
"""

import asyncio
from contextlib import AbstractAsyncContextManager

import httpx

from playbook.app.settings import Settings
from playbook.harness.simulator.app import UpstreamSimulator
from playbook.upstream.client import bound_http_client


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


def simulator_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    if settings.upstream_url:
        return ServedSimulatorTransport(settings.upstream_url)
    return SimulatorTransport(app=UpstreamSimulator(latency_ms=settings.upstream_latency_ms))


def bound_simulated_upstream(settings: Settings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The services' httpx client bound for background code, sending to the simulator."""
    return bound_http_client(settings, transport=simulator_transport(settings))
