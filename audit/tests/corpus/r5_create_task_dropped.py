# expect: R5
# A task started at startup and forgotten: nothing keeps it alive, nobody sees its error.
import asyncio

from fastapi import FastAPI

app = FastAPI()


async def refresh_cache() -> None:
    while True:
        await asyncio.sleep(60)


@app.on_event("startup")
async def start_refresher() -> None:
    asyncio.create_task(refresh_cache())
