"""Sessions for requests and for background work, the standard way.

Shows: a request session that closes before the response is sent,
`get_background_session()`, the one way background code opens a session, and
`run_in_transaction()`, one background write retried with backoff while the database
is unreachable or restarting, so a short outage delays a job instead of failing it.
Does not guarantee: that callers keep sessions short (rules R1 and R2), or that a
retried write is idempotent; its caller makes it so (R7).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from asyncpg.exceptions import ConnectionDoesNotExistError
from fastapi import Depends
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import background_slot, get_bound_settings, get_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Server shutting down or restarting, connection terminated by an administrator, and the
# conflicts PostgreSQL asks clients to retry (serialization failure, deadlock).
_TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "40001", "40P01"}
_FIRST_RETRY_DELAY = 0.05
_LONGEST_RETRY_DELAY = 1.0


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


async def run_in_transaction(operation: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `operation` in one background session and commit; on a transient database error,
    run it again in a new session, with backoff, for up to `DB_RETRY_FOR` seconds.

    `operation` must be idempotent: a commit whose answer was lost is run again too.
    """
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + get_bound_settings().db_retry_for
    delay = _FIRST_RETRY_DELAY
    while True:
        try:
            async with get_background_session() as session:
                return await operation(session)
        except Exception as exc:
            if not is_transient(exc) or loop.time() + delay > give_up_at:
                raise
            logger.warning("database unavailable (%s: %s); retrying in %.2f s", type(exc).__name__, exc, delay)
        # No session is open while waiting: the retry holds no connection (R2).
        await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_RETRY_DELAY)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` means the database was unreachable or restarting, so the same write may succeed later."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause: BaseException | None = exc
    while cause is not None:
        sqlstate = getattr(cause, "sqlstate", None) or ""
        # Class 08 is "connection exception"; OSError covers a refused or reset connection.
        if sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES:
            return True
        if isinstance(cause, (OSError, ConnectionDoesNotExistError)):
            return True
        cause = cause.__cause__
    return False
