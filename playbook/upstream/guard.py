"""The outbound guard: the one way the services reach the real network (`UPSTREAM=internet`).

Jobs fetch URLs that clients and upstream documents choose (a domain, a sitemap listed
in robots.txt, a link on a page). Without a guard, any of them can point the server at
itself or its network: server-side request forgery. `GuardedTransport` is the httpx
transport of the services' client in internet mode, and every request passes it:

- the scheme is http or https, the port one of `OUTBOUND_PORTS` (80 and 443 unless
  configured), and the URL carries no user info;
- the host is resolved here and every address it resolves to is checked with
  `refused_address_reason` (loopback, private, link-local, multicast, reserved, cloud
  metadata, anything not public), except those in `OUTBOUND_ALLOWED_NETWORKS`;
- the connection goes to the address that was checked, with the Host header and TLS
  server name of the site: a name that resolves elsewhere a moment later (DNS rebinding)
  changes nothing, and no connection is kept for another request;
- the answer is asked for uncompressed (a compressed one is refused: it could expand past
  any cap), read to at most `OUTBOUND_MAX_BYTES`, and the whole exchange must end within
  `OUTBOUND_DEADLINE` seconds, however slowly the server drips it.

Redirects are not followed: the services' client leaves `follow_redirects` off and a 3xx
counts as a failure of the item. A client that does follow them sends every hop through
this transport, checked the same way. A refusal raises `OutboundRefused`, an
`httpx.RequestError`, before a byte is sent; the services record it as the item's reason.
Does not guarantee: anything about HTTP proxies (the client ignores proxy settings) or
about what a public server answers.
"""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx

from playbook.app.hostnames import refused_address_reason
from playbook.app.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(httpx.RequestError):
    """The guard refused to send the request, or to read more of the answer; the message says why."""


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, as the operating system's resolver answers."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 socket address may carry a zone ("fe80::1%eth0"): the address is what comes before it.
    return list(dict.fromkeys(ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]) for *_, sockaddr in answers))


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends only what the guard allows, and reads only so much of it."""

    def __init__(
        self,
        *,
        ports: Sequence[int],
        max_bytes: int,
        deadline: float,
        allowed_networks: Sequence[IPNetwork] = (),
        resolve: Resolver = resolve_host,
    ) -> None:
        self.ports = frozenset(ports)
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.allowed_networks = tuple(allowed_networks)
        self._resolve = resolve
        # No keep-alive: a connection made for one site's address and TLS name serves no other request.
        self._network = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0), retries=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> "GuardedTransport":
        return cls(
            ports=settings.outbound_ports,
            max_bytes=settings.outbound_max_bytes,
            deadline=settings.outbound_deadline,
            allowed_networks=settings.outbound_allowed_networks,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = asyncio.get_running_loop().time() + self.deadline
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise OutboundRefused(f"{url.scheme}: is not http or https", request=request)
        if url.userinfo:
            raise OutboundRefused("the URL carries user info", request=request)
        port = url.port or DEFAULT_PORTS[url.scheme]
        if port not in self.ports:
            raise OutboundRefused(f"port {port} is not one of the allowed ports", request=request)
        host = url.raw_host.decode("ascii")
        address = await self._checked_address(request, host, port, deadline)
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(address)),
            headers=_identity_encoding(request.headers),
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._network.handle_async_request(pinned)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no answer within {self.deadline} s", request=request) from None
        return self._capped(request, response, deadline)

    async def _checked_address(self, request: httpx.Request, host: str, port: int, deadline: float) -> IPAddress:
        """The address to connect to, if every address of `host` may be reached."""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                async with asyncio.timeout_at(deadline):
                    addresses = await self._resolve(host, port)
            except (OSError, TimeoutError) as exc:
                raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from None
        if not addresses:
            raise httpx.ConnectError(f"{host} resolves to no address", request=request)
        for address in addresses:
            if any(address in network for network in self.allowed_networks):
                continue
            if reason := refused_address_reason(address):
                raise OutboundRefused(f"{host} resolves to {address}, {reason}", request=request)
        return addresses[0]

    def _capped(self, request: httpx.Request, response: httpx.Response, deadline: float) -> httpx.Response:
        encoding = response.headers.get("content-encoding", "identity").lower()
        declared = response.headers.get("content-length", "")
        refusal = None
        if encoding != "identity":
            refusal = f"the answer is compressed ({encoding}) though it was asked for uncompressed"
        elif declared.isdigit() and int(declared) > self.max_bytes:
            refusal = f"the answer is {declared} bytes, more than {self.max_bytes}"
        if refusal is not None:
            raise OutboundRefused(refusal, request=request)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(request, response, max_bytes=self.max_bytes, deadline=deadline),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._network.aclose()


def _identity_encoding(headers: httpx.Headers) -> httpx.Headers:
    asked = httpx.Headers(headers)
    asked["accept-encoding"] = "identity"
    return asked


class _CappedStream(httpx.AsyncByteStream):
    """The answer's body, ended with `OutboundRefused` past `max_bytes` or a timeout past `deadline`."""

    def __init__(self, request: httpx.Request, response: httpx.Response, *, max_bytes: int, deadline: float) -> None:
        self._request = request
        self._response = response
        self._max_bytes = max_bytes
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._response.aiter_raw()
        received = 0
        while True:
            try:
                async with asyncio.timeout_at(self._deadline):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout("the answer did not end in time", request=self._request) from None
            received += len(chunk)
            if received > self._max_bytes:
                raise OutboundRefused(f"the answer is longer than {self._max_bytes} bytes", request=self._request)
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()
