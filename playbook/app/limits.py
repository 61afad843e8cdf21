"""What one client may ask of the API: a request rate, and a body size.

`RequestLimits` is ASGI middleware in front of the app:

- Every client has a token bucket of `RATE_LIMIT_BURST` requests, refilled at
  `RATE_LIMIT_PER_SECOND`. A client is the owner of a valid API key, or the address a
  request came from when it sent none (so guessing keys is limited too). A request that
  finds its bucket empty gets 429 with `Retry-After` in whole seconds, before anything
  else is done for it. Only `/api/` paths count: `/health` and the documentation are never
  refused, so monitoring is not starved by a busy client.
- A POST, PUT or PATCH body larger than `MAX_BODY_BYTES` gets 413: at once when its
  `Content-Length` says so, else as soon as the bytes received pass the limit. Whoever reads
  the body reads it through the count, so no more than the limit is ever held; the body of
  any other method is never read.

Does not guarantee: fairness between clients behind one address (a proxy), or a limit
shared by several processes; each process counts on its own.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from playbook.app.auth import API_KEY_HEADER, ApiKeys
from playbook.app.json_bodies import BODY_METHODS
from playbook.app.settings import Settings

RATE_LIMITED_PREFIX = "/api/"
# Buckets of clients idle long enough to be full again are dropped once this many are kept.
MAX_TRACKED_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets, one per client: `burst` requests at once, `per_second` sustained."""

    def __init__(self, *, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def wait_needed(self, client: str) -> float:
        """Take one request from `client`'s bucket and return 0, or return the seconds until one is there."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_full_buckets(now)
            bucket = self._buckets[client] = _Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_second

    def _forget_full_buckets(self, now: float) -> None:
        # A full bucket is the same as no bucket: forgetting it changes no client's limit.
        refill_time = self.burst / self.per_second
        self._buckets = {
            client: bucket for client, bucket in self._buckets.items() if now - bucket.updated < refill_time
        }


class BodyTooLarge(Exception):
    """The request body passed the limit while it was being read."""


class RequestLimits:
    """ASGI middleware: 429 past a client's rate, 413 past the body size limit."""

    def __init__(self, app: ASGIApp, *, settings: Settings, api_keys: ApiKeys) -> None:
        self.app = app
        self.max_body_bytes = settings.max_body_bytes
        self.api_keys = api_keys
        self.rate_limiter = RateLimiter(per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if scope["path"].startswith(RATE_LIMITED_PREFIX):
            wait = self.rate_limiter.wait_needed(self._client(scope, headers))
            if wait:
                seconds = max(1, math.ceil(wait))
                response = JSONResponse(
                    {"detail": f"too many requests from this client: retry in {seconds} s"},
                    status_code=429,
                    headers={"Retry-After": str(seconds)},
                )
                return await response(scope, receive, send)
        declared = _content_length(headers)
        # Only the methods whose bodies the app reads: any other body is left unread.
        if scope["method"] in BODY_METHODS and declared is not None and declared > self.max_body_bytes:
            return await self._too_large(scope, receive, send)
        started, received = False, 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    def _client(self, scope: Scope, headers: Headers) -> str:
        owner = self.api_keys.owner_for(headers.get(API_KEY_HEADER))
        if owner is not None and not self.api_keys.open:
            return owner
        client = scope.get("client")
        return f"address {client[0] if client else 'unknown'}"

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_body_bytes} bytes (MAX_BODY_BYTES)"}, status_code=413
        )
        await response(scope, receive, send)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None
