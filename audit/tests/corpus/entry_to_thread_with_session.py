# expect: R1, R10
# asyncio.to_thread hands the session to a sync function in another thread.
import asyncio

from _support import get_background_session
from sqlalchemy.ext.asyncio import AsyncSession


def export_rows(session: AsyncSession, path: str) -> None:
    session.execute("SELECT 1")


async def export(path: str) -> None:
    async with get_background_session() as session:
        await asyncio.to_thread(export_rows, session, path)


async def start(path: str, background_tasks) -> None:
    background_tasks.add_task(export, path)
