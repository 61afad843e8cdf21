"""What the pitfall examples share: an engine and upstream client bound the way the app's
lifespan binds them, a job row to work on, a fresh read of what the database holds, and
the messages an example logged."""

import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import bound_engine, get_engine
from playbook.app.models import Job
from playbook.app.settings import Settings
from playbook.harness.simulator.transport import bound_simulated_upstream
from standardized.db import get_background_session


@asynccontextmanager
async def worker(database_url: URL, **settings: Any) -> AsyncIterator[None]:
    """Bind an engine and an upstream client for background code, as a worker's startup does (R8)."""
    worker_settings = Settings(**settings)
    async with bound_engine(database_url, worker_settings), bound_simulated_upstream(worker_settings):
        yield


async def insert_job(**values: object) -> uuid.UUID:
    async with get_background_session() as session:
        job = Job(kind="batch", **values)
        session.add(job)
    return job.id


async def read_job(job_id: uuid.UUID) -> Job:
    """The job as the database holds it, read in a session of its own."""
    async with AsyncSession(get_engine()) as session:
        return await session.get_one(Job, job_id)


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def logged_messages(logger: logging.Logger) -> Iterator[list[str]]:
    """The messages `logger` emits inside the block, INFO and up."""
    handler = _Messages()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def describe(exc: BaseException) -> str:
    """`Class: message`, first line only, with memory addresses masked so runs compare equal."""
    first_line = str(exc).splitlines()[0]
    return f"{type(exc).__name__}: {re.sub(r'0x[0-9a-f]+', '0x…', first_line)}"
