"""F9: one `AsyncSession` shared by coroutines that run at once.

A session is one unit of work on at most one connection. Coroutines gathered on it
overlap, and SQLAlchemy refuses the overlap with a message that depends on what the first
coroutine was doing when the next came in: connecting, or flushing. It shows the overlaps
SQLAlchemy detects; it does not show the ones it cannot, which corrupt the transaction
silently.
"""

import asyncio
import warnings
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from docs_src.pitfalls.support import describe, worker
from playbook.app.database import get_engine
from playbook.app.models import Job

COROUTINES = 3


# --8<-- [start:shared]
async def read(session: AsyncSession) -> None:
    # The first call checks out a connection; the others arrive while it connects.
    await session.execute(select(Job.id).limit(1))


async def write(session: AsyncSession, total_items: int) -> None:
    session.add(Job(kind="batch", total_items=total_items))
    # The flush awaits its INSERT; the next coroutine adds and flushes meanwhile.
    await session.flush()


# --8<-- [end:shared]


def _first_sentence(warning: warnings.WarningMessage) -> str:
    return f"{warning.category.__name__}: {str(warning.message).split('. ')[0]}"


async def _gathered(*calls: Coroutine[Any, Any, None]) -> dict[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = await asyncio.gather(*calls, return_exceptions=True)
    return {
        "outcomes": ["done" if result is None else describe(result) for result in results],
        "warnings": sorted({_first_sentence(warning) for warning in caught}),
    }


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        async with AsyncSession(get_engine()) as session:
            reads = await _gathered(*(read(session) for _ in range(COROUTINES)))
        async with AsyncSession(get_engine()) as session:
            writes = await _gathered(*(write(session, n) for n in range(COROUTINES)))
        return {"reads gathered on one session": reads, "writes gathered on one session": writes}
