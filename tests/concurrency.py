"""What makes a concurrency test able to fail: overlap that is certain, not likely.

`writes_blocked` holds a lock that stops every writer to a table in its first statement,
each still holding its connection, so the test can count the connections of everything
that is writing at once; `Gauge` counts the calls of a coroutine function in flight; and
`until` waits for a condition with a deadline instead of a fixed sleep.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# How long a test gives work it holds back to pile up past a bound, once the bound is reached.
# Only a broken bound needs the time; a test of working code passes whatever it is.
SETTLE = 0.3


@asynccontextmanager
async def writes_blocked(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """Until the block ends, every INSERT, UPDATE or DELETE on `table` waits, holding its connection.

    A SHARE lock, taken on a connection of `engine`, conflicts with the ROW EXCLUSIVE lock
    that writers need; readers go on. It is released, and the writers go on, at the end.
    """
    async with engine.connect() as connection:
        await connection.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
        try:
            yield
        finally:
            await connection.rollback()


class Gauge:
    """How many calls of a wrapped coroutine function are running now, and the most there were at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    def around(self, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @wraps(function)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                return await function(*args, **kwargs)
            finally:
                self.running -= 1

        return counted


async def until(condition: Callable[[], bool], *, within: float = 5.0) -> bool:
    """Wait until `condition()` holds, for at most `within` seconds; return whether it held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True
