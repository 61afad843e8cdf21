# expect: none
# session.get() with loader options counts as eager loading too.
from _support import Item, get_background_session
from sqlalchemy.orm import joinedload


async def show_parent(item_id: int) -> None:
    async with get_background_session() as session:
        item = await session.get(Item, item_id, options=[joinedload(Item.job)])
        print(item.job.status)


async def start(item_id: int, background_tasks) -> None:
    background_tasks.add_task(show_parent, item_id)
