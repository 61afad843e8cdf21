"""The app factory: one variant behind the HTTP contract, on one database.

The engine and the upstream client are created in the lifespan, on the loop that
serves requests, and closed at shutdown (R8); a procrastinate worker binds the same two
(`bound_resources`). Then the variant's own lifespan starts what it runs beside requests
(its job reaper; the standardized one also its executor, kept on `app.state.executor`
for the routes and for whoever waits for the jobs to end). Schema creation is not done
here: the CLI and the tests prepare the database before an app starts.

The contract is the same whichever variant serves it, so what guards it lives here:
the limits on each client (`playbook.app.limits`), strict JSON bodies
(`playbook.app.json_bodies`), short error bodies (`playbook.app.errors`) and API keys
(`playbook.app.auth`), each refusal documented in the OpenAPI schema.
"""

import gc
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.engine import URL

from playbook.app.auth import api_keys_of, document_api_keys
from playbook.app.database import bound_engine
from playbook.app.errors import SUBMISSION_ERRORS, validation_error_handler
from playbook.app.json_bodies import StrictJsonBodies
from playbook.app.limits import RequestLimits
from playbook.app.reads import router as jobs_router
from playbook.app.settings import Settings, Variant
from playbook.harness.simulator.transport import simulator_transport
from playbook.upstream.client import bound_http_client
from playbook.upstream.guard import GuardedTransport

logger = logging.getLogger(__name__)


@asynccontextmanager
async def bound_resources(database_url: URL, settings: Settings) -> AsyncIterator[None]:
    """The engine and the upstream client, created on the running loop for background code, closed at exit."""
    async with (
        bound_engine(database_url, settings),
        bound_http_client(settings, transport=upstream_transport(settings)),
    ):
        yield


def create_app(variant: Variant, *, database_url: URL, settings: Settings) -> FastAPI:
    if variant == "legacy" and settings.executor != "background":
        raise ValueError(
            f"EXECUTOR={settings.executor} needs the standardized variant: legacy runs BackgroundTasks only"
        )
    routes = importlib.import_module(f"{variant}.routes")
    variant_lifespan = importlib.import_module(f"{variant}.lifespan").lifespan

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with startup_objects_frozen():
            async with bound_resources(database_url, settings), variant_lifespan(settings) as executor:
                app.state.executor = executor
                yield

    app = FastAPI(title=f"Background-task playbook: {variant}", lifespan=lifespan)
    app.state.variant = variant
    app.state.api_keys = api_keys = api_keys_of(settings)
    app.include_router(routes.router, responses=SUBMISSION_ERRORS)
    app.include_router(jobs_router)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    # Added last, run first: the rate limit and the size cap before the body is parsed.
    app.add_middleware(StrictJsonBodies)
    app.add_middleware(RequestLimits, settings=settings, api_keys=api_keys)
    if not api_keys.open:
        app.openapi = _with_api_key_security(app)  # type: ignore[method-assign]
    return app


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Leave what the process holds when the app starts (modules, schemas, compiled statements)
    out of garbage collection while it serves.

    A full collection walks every object it tracks, on the event loop: with the startup
    objects in, that walk alone held the loop for about 70 ms whenever a job's allocations
    triggered one. They come back under collection when the app stops.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def upstream_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """Where the services' requests go: the simulator unless UPSTREAM=internet says the real network."""
    if settings.upstream == "internet":
        logger.info("upstream: the network, through the outbound guard (ports %s)", settings.outbound_ports)
        return GuardedTransport.from_settings(settings)
    logger.info("upstream: the simulator; no request leaves this machine")
    return simulator_transport(settings)


def _with_api_key_security(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_api_keys(FastAPI.openapi(app))
        return app.openapi_schema

    return openapi
