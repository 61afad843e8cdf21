"""The app factory: one variant behind the HTTP contract, on one database.

The engine and the upstream client are created in the lifespan, on the loop that
serves requests, and closed at shutdown (R8); then the variant's own lifespan starts
what it runs beside requests (its job reaper). Schema creation is not done here: the
CLI and the tests prepare the database before an app starts.
"""

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import URL

from playbook.app.database import bound_engine
from playbook.app.reads import router as jobs_router
from playbook.app.settings import Settings, Variant
from playbook.harness.simulator.transport import bound_simulated_upstream


def create_app(variant: Variant, *, database_url: URL, settings: Settings) -> FastAPI:
    routes = importlib.import_module(f"{variant}.routes")
    variant_lifespan = importlib.import_module(f"{variant}.lifespan").lifespan

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with bound_engine(database_url, settings), bound_simulated_upstream(settings), variant_lifespan(settings):
            yield

    app = FastAPI(title=f"Background-task playbook: {variant}", lifespan=lifespan)
    app.state.variant = variant
    app.include_router(routes.router)
    app.include_router(jobs_router)
    return app
