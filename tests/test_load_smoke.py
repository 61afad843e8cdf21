"""The upstream as load tests reach it: the simulator served on 127.0.0.1, over real HTTP.

With `upstream_url` set, the services' client sends every request to the served simulator
and keeps the `Host` header, so the simulated site's name still picks its behaviour.
The load run itself (`make load`) is smoke-tested by `.ci/run`, not here: it takes longer
than a test should.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from playbook.app.settings import Settings
from playbook.harness.server import serve_in_process
from playbook.harness.simulator.app import UpstreamSimulator
from playbook.harness.simulator.transport import (
    ServedSimulatorTransport,
    bound_simulated_upstream,
)
from playbook.upstream.sites import fetch_site


@dataclass
class ServedSimulator:
    base_url: str
    hosts_seen: list[str]


@pytest.fixture
async def served_simulator() -> AsyncIterator[ServedSimulator]:
    # A short hang, so a timed-out request's answer does not hold up the server's shutdown.
    simulator = UpstreamSimulator(hang_seconds=1.0)
    hosts_seen: list[str] = []

    async def recording_hosts(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hosts_seen.append(dict(scope["headers"])[b"host"].decode())
        await simulator(scope, receive, send)

    async with serve_in_process(recording_hosts) as running:
        yield ServedSimulator(base_url=running.base_url, hosts_seen=hosts_seen)


async def test_requests_reach_the_served_simulator_under_their_own_host(served_simulator: ServedSimulator) -> None:
    async with httpx.AsyncClient(transport=ServedSimulatorTransport(served_simulator.base_url)) as client:
        healthy = await client.get("http://site-1.test/")
        failing = await client.get("http://fail-1.test/")

    assert served_simulator.hosts_seen == ["site-1.test", "fail-1.test"]
    assert healthy.status_code == 200
    assert "<title>Home of site-1.test</title>" in healthy.text
    assert failing.status_code == 500


async def test_the_response_keeps_the_url_the_caller_asked_for(served_simulator: ServedSimulator) -> None:
    async with httpx.AsyncClient(transport=ServedSimulatorTransport(served_simulator.base_url)) as client:
        response = await client.get("http://site-1.test/?page=2")

    assert str(response.url) == "http://site-1.test/?page=2"


async def test_the_client_timeout_applies_over_the_network(served_simulator: ServedSimulator) -> None:
    transport = ServedSimulatorTransport(served_simulator.base_url)
    async with httpx.AsyncClient(transport=transport, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("http://timeout-1.test/")


async def test_the_services_client_uses_the_served_simulator_when_upstream_url_is_set(
    served_simulator: ServedSimulator,
) -> None:
    settings = Settings(upstream_url=served_simulator.base_url)
    async with bound_simulated_upstream(settings):
        site = await fetch_site("site-7.test")

    assert served_simulator.hosts_seen == ["site-7.test"]
    assert site.title == "Home of site-7.test"
