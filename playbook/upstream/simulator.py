"""A deterministic stand-in for the sites the services fetch, chosen by host name.

The first label of the host picks the behaviour, so scenarios read plainly:

| host            | answer                                                   |
|-----------------|----------------------------------------------------------|
| `slow-*.test`   | a normal page after `slow_ms` extra milliseconds          |
| `fail-*.test`   | HTTP 500                                                 |
| `missing-*.test`| HTTP 404                                                 |
| `timeout-*.test`| no answer for `hang_seconds` (the client times out first) |
| `junk-*.test`   | 200 with binary bytes, not HTML                          |
| anything else   | 200 with an HTML page titled after the host              |

Every answer is delayed by `latency_ms`. It is an ASGI app: mounted in-process as an
httpx transport, or served on 127.0.0.1. It keeps no state between requests.
"""

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class UpstreamSimulator:
    latency_ms: int = 0
    slow_ms: int = 100
    hang_seconds: float = 30.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        response = await self._answer(request.url.hostname or "")
        await response(scope, receive, send)

    async def _answer(self, host: str) -> Response:
        behaviour = host.split(".", 1)[0].split("-", 1)[0]
        if behaviour == "slow":
            await asyncio.sleep(self.slow_ms / 1000)
        elif behaviour == "fail":
            return Response("upstream exploded", status_code=500)
        elif behaviour == "missing":
            return Response("no such page", status_code=404)
        elif behaviour == "timeout":
            await asyncio.sleep(self.hang_seconds)
        elif behaviour == "junk":
            return Response(bytes(range(256)) * 4, media_type="application/octet-stream")
        return HTMLResponse(f"<html><head><title>Home of {host}</title></head><body>{host}</body></html>")
