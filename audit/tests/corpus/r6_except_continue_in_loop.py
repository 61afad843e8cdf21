# expect: R6
# A failing item is skipped without a trace.
import httpx


async def warm(urls: list[str]) -> None:
    async with httpx.AsyncClient() as client:
        for url in urls:
            try:
                await client.get(url)
            except httpx.HTTPError:
                continue


async def start(urls: list[str], background_tasks) -> None:
    background_tasks.add_task(warm, urls)
