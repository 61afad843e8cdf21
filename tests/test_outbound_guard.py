"""The outbound guard, proven with capture servers on 127.0.0.1 and 127.0.0.2.

A capture server records every connection and every byte it receives. The one on
127.0.0.1 stands for what must never be reached (the server itself, its network); the one
on 127.0.0.2 for a public site, let through by `allowed_networks`, the setting an egress
proxy would use. Host names resolve through a resolver the test controls, so a name can
point at either, or change its answer between two lookups (DNS rebinding).
"""

import asyncio
import ipaddress
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from playbook.app.factory import upstream_transport
from playbook.app.hostnames import refused_address_reason
from playbook.app.settings import Settings
from playbook.harness.simulator.transport import SimulatorTransport
from playbook.upstream.client import bound_http_client
from playbook.upstream.fetch import UpstreamError, get_ok
from playbook.upstream.guard import GuardedTransport, IPAddress, OutboundRefused

OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"


@dataclass
class CaptureServer:
    """Records what reaches one loopback address, and answers every request with `answer`."""

    host: str
    answer: Callable[[asyncio.StreamWriter], Awaitable[None]] | bytes = OK
    connections: int = 0
    received: bytearray = field(default_factory=bytearray)
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            self.received += await reader.readuntil(b"\r\n\r\n")
            if isinstance(self.answer, bytes):
                writer.write(self.answer)
            else:
                await self.answer(writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @property
    def untouched(self) -> bool:
        return self.connections == 0 and not self.received


@pytest.fixture
async def forbidden() -> AsyncIterator[CaptureServer]:
    async with _capturing("127.0.0.1") as server:
        yield server


@pytest.fixture
async def public() -> AsyncIterator[CaptureServer]:
    async with _capturing("127.0.0.2") as server:
        yield server


class _capturing:
    def __init__(self, host: str, port: int = 0) -> None:
        self.capture = CaptureServer(host)
        self.port = port

    async def __aenter__(self) -> CaptureServer:
        self._server = await asyncio.start_server(self.capture._serve, self.capture.host, self.port)
        self.capture.port = self._server.sockets[0].getsockname()[1]
        return self.capture

    async def __aexit__(self, *_exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()


class Resolver:
    """Answers from a table; a list of answers for a name is used one lookup at a time."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        sequence = self.answers[host]
        current = sequence.pop(0) if len(sequence) > 1 else sequence[0]
        return [ipaddress.ip_address(address) for address in current]


def guard(
    resolver: Resolver,
    *servers: CaptureServer,
    ports: list[int] | None = None,
    max_bytes: int = 1_000_000,
    deadline: float = 5.0,
) -> GuardedTransport:
    """The guard with the capture servers' ports allowed, and 127.0.0.2 let through as if public."""
    return GuardedTransport(
        ports=[server.port for server in servers] if ports is None else ports,
        max_bytes=max_bytes,
        deadline=deadline,
        allowed_networks=[ipaddress.ip_network("127.0.0.2/32")],
        resolve=resolver,
    )


async def get(transport: GuardedTransport, url: str, *, follow_redirects: bool = False) -> httpx.Response:
    # A read timeout far longer than any answer here takes, and than the guard's deadline in its test.
    async with httpx.AsyncClient(transport=transport, follow_redirects=follow_redirects, timeout=5.0) as client:
        return await client.get(url)


async def test_a_loopback_literal_is_refused_and_receives_nothing(forbidden: CaptureServer) -> None:
    with pytest.raises(OutboundRefused, match=re.escape("127.0.0.1 resolves to 127.0.0.1, a loopback address")):
        await get(guard(Resolver({}), forbidden), f"http://127.0.0.1:{forbidden.port}/")
    assert forbidden.untouched


async def test_a_name_that_resolves_to_loopback_is_refused_and_receives_nothing(forbidden: CaptureServer) -> None:
    resolver = Resolver({"evil.test": [["127.0.0.1"]]})
    with pytest.raises(OutboundRefused, match=re.escape("evil.test resolves to 127.0.0.1, a loopback address")):
        await get(guard(resolver, forbidden), f"http://evil.test:{forbidden.port}/")
    assert forbidden.untouched


async def test_one_refused_address_among_a_names_answers_refuses_the_request(
    forbidden: CaptureServer, public: CaptureServer
) -> None:
    resolver = Resolver({"mixed.test": [["127.0.0.2", "127.0.0.1"]]})
    with pytest.raises(OutboundRefused, match="a loopback address"):
        await get(guard(resolver, forbidden, public), f"http://mixed.test:{public.port}/")
    assert forbidden.untouched and public.untouched


async def test_an_allowed_address_gets_the_request_under_the_sites_name(public: CaptureServer) -> None:
    response = await get(guard(Resolver({"site.test": [["127.0.0.2"]]}), public), f"http://site.test:{public.port}/")

    assert (response.status_code, response.text) == (200, "ok")
    request = public.received.decode().lower()
    assert f"host: site.test:{public.port}\r\n" in request
    assert "accept-encoding: identity\r\n" in request


async def test_the_connection_goes_to_the_address_that_was_checked(public: CaptureServer) -> None:
    # DNS rebinding: checked as 127.0.0.2, then the name says 127.0.0.1. One lookup, one address.
    async with _capturing("127.0.0.1", port=public.port) as forbidden:  # only the address tells them apart
        resolver = Resolver({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
        transport = guard(resolver, public)
        first = await get(transport, f"http://rebind.test:{public.port}/")
        assert (first.status_code, resolver.lookups) == (200, ["rebind.test"])
        with pytest.raises(OutboundRefused, match="a loopback address"):
            await get(transport, f"http://rebind.test:{public.port}/")

    assert public.connections == 1 and forbidden.untouched


async def test_user_info_in_the_url_is_refused(public: CaptureServer) -> None:
    with pytest.raises(OutboundRefused, match="the URL carries user info"):
        await get(guard(Resolver({"site.test": [["127.0.0.2"]]}), public), f"http://user:pw@site.test:{public.port}/")
    assert public.untouched


async def test_a_port_not_allowed_is_refused(public: CaptureServer) -> None:
    transport = guard(Resolver({"site.test": [["127.0.0.2"]]}), public, ports=[80, 443])
    with pytest.raises(OutboundRefused, match=f"port {public.port} is not one of the allowed ports"):
        await get(transport, f"http://site.test:{public.port}/")
    assert public.untouched


async def test_a_scheme_other_than_http_or_https_is_refused(public: CaptureServer) -> None:
    with pytest.raises(OutboundRefused, match="ftp: is not http or https"):
        await get(guard(Resolver({"site.test": [["127.0.0.2"]]}), public), f"ftp://site.test:{public.port}/")
    assert public.untouched


def redirect_to(url: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nlocation: {url}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()


async def test_the_services_do_not_follow_a_redirect(forbidden: CaptureServer, public: CaptureServer) -> None:
    public.answer = redirect_to(f"http://evil.test:{forbidden.port}/")
    resolver = Resolver({"site.test": [["127.0.0.2"]], "evil.test": [["127.0.0.1"]]})
    async with bound_http_client(Settings(), transport=guard(resolver, forbidden, public)):
        with pytest.raises(UpstreamError, match="HTTP 302 \\(redirects are not followed\\)"):
            await get_ok(f"http://site.test:{public.port}/", error=UpstreamError)

    assert public.connections == 1 and forbidden.untouched


async def test_a_client_that_follows_redirects_has_each_hop_checked(
    forbidden: CaptureServer, public: CaptureServer
) -> None:
    public.answer = redirect_to(f"http://evil.test:{forbidden.port}/")
    resolver = Resolver({"site.test": [["127.0.0.2"]], "evil.test": [["127.0.0.1"]]})
    with pytest.raises(OutboundRefused, match=re.escape("evil.test resolves to 127.0.0.1")):
        await get(guard(resolver, forbidden, public), f"http://site.test:{public.port}/", follow_redirects=True)
    assert public.connections == 1 and forbidden.untouched


async def test_the_services_fetch_goes_through_the_guard(forbidden: CaptureServer) -> None:
    resolver = Resolver({"evil.test": [["127.0.0.1"]]})
    async with bound_http_client(Settings(), transport=guard(resolver, forbidden)):
        with pytest.raises(
            UpstreamError, match=re.escape("request failed: OutboundRefused: evil.test resolves to 127.0.0.1")
        ):
            await get_ok(f"http://evil.test:{forbidden.port}/", error=UpstreamError)
    assert forbidden.untouched


async def test_an_answer_declared_larger_than_the_cap_is_refused_unread(public: CaptureServer) -> None:
    public.answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2000000\r\nconnection: close\r\n\r\n" + b"x" * 1000
    transport = guard(Resolver({"site.test": [["127.0.0.2"]]}), public, max_bytes=1_000_000)
    with pytest.raises(OutboundRefused, match="the answer is 2000000 bytes, more than 1000000"):
        await get(transport, f"http://site.test:{public.port}/")


async def test_an_answer_longer_than_the_cap_is_cut_off(public: CaptureServer) -> None:
    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        for _ in range(200):
            writer.write(b"x" * 10_000)
            await writer.drain()

    public.answer = endless
    transport = guard(Resolver({"site.test": [["127.0.0.2"]]}), public, max_bytes=100_000)
    with pytest.raises(OutboundRefused, match="the answer is longer than 100000 bytes"):
        await get(transport, f"http://site.test:{public.port}/")


async def test_an_answer_dripping_past_the_deadline_is_cut_off(public: CaptureServer) -> None:
    async def drip(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n")
        for _ in range(1000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    public.answer = drip
    # Each byte comes well within the client's read timeout; only the whole exchange is too slow.
    transport = guard(Resolver({"site.test": [["127.0.0.2"]]}), public, deadline=0.5)
    with pytest.raises(httpx.ReadTimeout, match="the answer did not end in time"):
        await get(transport, f"http://site.test:{public.port}/")


async def test_a_compressed_answer_is_refused(public: CaptureServer) -> None:
    public.answer = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\nconnection: close\r\n\r\nxxxx"
    with pytest.raises(OutboundRefused, match="the answer is compressed \\(gzip\\)"):
        await get(guard(Resolver({"site.test": [["127.0.0.2"]]}), public), f"http://site.test:{public.port}/")


REFUSED = {
    "127.0.0.1": "a loopback address",
    "::1": "a loopback address",
    "::ffff:127.0.0.1": "a loopback address",
    "10.0.0.1": "a private address",
    "172.16.0.1": "a private address",
    "192.168.1.1": "a private address",
    "fd00::1": "a private address",
    "169.254.169.254": "a link-local address",
    "fe80::1": "a link-local address",
    "100.100.100.200": "a cloud metadata address",
    "fd00:ec2::254": "a cloud metadata address",
    "224.0.0.1": "a multicast address",
    "ff02::1": "a multicast address",
    "0.0.0.0": "an unspecified address",
    "::": "an unspecified address",
    "240.0.0.1": "a reserved address",
    "255.255.255.255": "a reserved address",
    "100.64.0.1": "not a public address",
    "192.0.2.1": "a private address",
    "2002:7f00:1::1": "a loopback address",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "a private address",
}


@pytest.mark.parametrize(("address", "reason"), REFUSED.items(), ids=REFUSED.keys())
def test_addresses_that_are_not_public_are_refused(address: str, reason: str) -> None:
    assert refused_address_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refused_address_reason(ipaddress.ip_address(address)) is None


def test_the_network_is_reached_only_through_the_guard_and_only_when_asked() -> None:
    assert isinstance(upstream_transport(Settings(upstream="internet")), GuardedTransport)
    assert isinstance(upstream_transport(Settings()), SimulatorTransport)
