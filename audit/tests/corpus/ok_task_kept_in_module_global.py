# expect: none
# The task is kept in a module global and cancelled at shutdown.
import asyncio

_sweeper: asyncio.Task[None] | None = None


async def sweep() -> None:
    while True:
        await asyncio.sleep(60)


async def startup() -> None:
    global _sweeper
    _sweeper = asyncio.create_task(sweep())


async def shutdown() -> None:
    if _sweeper is not None:
        _sweeper.cancel()
