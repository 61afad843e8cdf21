# expect: none
# The task is kept in a set until it is done, the way the asyncio docs recommend.
import asyncio

background_tasks: set[asyncio.Task] = set()


async def refresh(key: str) -> None:
    await asyncio.sleep(1)


async def schedule(key: str) -> None:
    task = asyncio.create_task(refresh(key))
    background_tasks.add(task)
    task.add_done_callback(background_tasks.discard)
