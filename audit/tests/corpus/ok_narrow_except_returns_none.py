# expect: none
# An expected exception handled as control flow: not a swallowed failure.
from pathlib import Path

from _support import Job, get_background_session
from sqlalchemy import update


def read_report(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


async def attach_report(job_id: int, path: str) -> None:
    text = read_report(Path(path))
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="completed" if text else "partial"))


async def start(job_id: int, path: str, background_tasks) -> None:
    background_tasks.add_task(attach_report, job_id, path)
