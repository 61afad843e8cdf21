# expect: none
# A periodic sweep logs a failed round with its traceback and tries again next round.
import asyncio
import logging

from _support import Job, get_background_session
from sqlalchemy import update

logger = logging.getLogger(__name__)


async def sweep() -> None:
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.status == "processing").values(status="failed"))


async def run_sweeper(interval: float) -> None:
    while True:
        try:
            await sweep()
        except Exception:
            logger.exception("sweep failed; next one in %s s", interval)
        await asyncio.sleep(interval)


class Sweeper:
    def __init__(self) -> None:
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(run_sweeper(30))
