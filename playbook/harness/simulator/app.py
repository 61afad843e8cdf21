"""A deterministic stand-in for everything the services call, chosen by host name.

On a site host, the first label picks the behaviour, so scenarios read plainly:

| host             | answer                                                    |
|------------------|-----------------------------------------------------------|
| `slow-*.test`    | the normal answer after `slow_ms` extra milliseconds       |
| `fail-*.test`    | HTTP 500                                                  |
| `missing-*.test` | HTTP 404                                                  |
| `timeout-*.test` | no answer for `hang_seconds` (the client times out first)  |
| `junk-*.test`    | 200 with binary bytes, not HTML                           |
| anything else    | the site: pages (`pages`) and sitemaps (`sitemaps`)        |

Sitemap layouts (`sitemaps`): `flat-*` (one urlset, robots.txt lists none), `norobots-*`
(no robots.txt), `malformed-*` (broken XML), `huge-*` (more URLs than the services' cap),
`deep-*` (indexes nested without end), `nositemap-*` (none at all); any other host serves
an index with nested indexes and a gzipped urlset.

Page layouts (`pages`): `noemail-*` (no e-mail address), `deep-*` (pages chained eight
links deep), `wide-*` (forty pages one link from home), `broken-*` (also links to pages
answering 500 and not HTML); any other host's home page links to `/about`, `/contact` and
`/team`, with addresses plain and obfuscated, to another site, a PDF and a missing page.

`places.test` is the Places-style API (`places_api`): words in the query pick its
behaviour (rate limits, denial, failures), and its pages take a latency of their own.
Every answer is delayed by `latency_ms`. It is an ASGI app: mounted in-process as an
httpx transport, or served on 127.0.0.1.
"""

import asyncio
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from playbook.harness.simulator import pages, sitemaps
from playbook.harness.simulator.places_api import PlacesApi
from playbook.upstream.places import PLACES_HOST


@dataclass
class UpstreamSimulator:
    latency_ms: int = 0
    slow_ms: int = 100
    hang_seconds: float = 30.0
    places: PlacesApi = field(default_factory=PlacesApi)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        response = await self._answer(request)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        host = request.url.hostname or ""
        if host == PLACES_HOST:
            return await self.places.answer(request)
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
        path = request.url.path
        if sitemaps.serves(path):
            return sitemaps.document(host, path)
        return pages.page(host, path)
