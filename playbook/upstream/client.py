"""The httpx client the services use, bound for the lifetime of the app or worker.

Like the engine, it is created on the running loop at startup and closed at shutdown.
Where its requests go is the transport the caller passes: the app factory passes the
upstream simulator's.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from playbook.app.settings import Settings

_bound_client: httpx.AsyncClient | None = None


def get_http_client() -> httpx.AsyncClient:
    if _bound_client is None:
        raise RuntimeError("no upstream client is bound: run inside the app lifespan or a worker")
    return _bound_client


@asynccontextmanager
async def bound_http_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client sending through `transport`, bound for background code."""
    global _bound_client
    async with httpx.AsyncClient(transport=transport, timeout=settings.upstream_timeout) as client:
        _bound_client = client
        try:
            yield client
        finally:
            _bound_client = None
