"""Sessions for requests and for background work, the standard way.

Shows: a request session that closes before the response is sent, and
`get_background_session()`, the one way background code opens a session.
Does not guarantee: that callers keep sessions short; that is rules R1 and R2.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import background_slot, get_engine


async def get_session() -> AsyncIterator[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without implicit IO (R3).
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session


# scope="function": the session closes when the endpoint returns, before the response
# and its background tasks, so no task can reach it and no connection is held meanwhile.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def get_background_session() -> AsyncIterator[AsyncSession]:
    """One short session for one discrete operation: commit on success, roll back on error, always close."""
    # Background work queues for a slot rather than for the pool, so requests always find a connection.
    # close_resets_only=False: a session used after close fails loudly instead of reconnecting (F8).
    async with (
        background_slot(),
        AsyncSession(get_engine(), expire_on_commit=False, close_resets_only=False) as session,
    ):
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
