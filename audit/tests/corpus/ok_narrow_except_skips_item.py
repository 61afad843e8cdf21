# expect: none
# A named exception (an HTTP error) handled on purpose: control flow, not a swallowed failure.
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
