# expect: R2
# The network call hides in a helper; the session is held across every page.
import httpx
from _support import Item, get_engine
from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_page(client: httpx.AsyncClient, page: int) -> list[str]:
    response = await client.get("https://api.test/items", params={"page": page})
    return response.json()["urls"]


async def import_items(job_id: int) -> None:
    async with httpx.AsyncClient() as client, AsyncSession(get_engine()) as session:
        for page in range(1, 10):
            urls = await fetch_page(client, page)
            session.add_all([Item(job_id=job_id, url=url) for url in urls])
            await session.flush()
        await session.commit()


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(import_items, job_id)
