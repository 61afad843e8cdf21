# expect: none
# The session block ends before the network call; a second short one writes the result.
import httpx
from _support import Item, get_background_session
from sqlalchemy import select, update


async def check(item_id: int) -> None:
    async with get_background_session() as session:
        url = await session.scalar(select(Item.url).where(Item.id == item_id))
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    async with get_background_session() as session:
        await session.execute(update(Item).where(Item.id == item_id).values(url=str(response.url)))


async def start(item_id: int, background_tasks) -> None:
    background_tasks.add_task(check, item_id)
