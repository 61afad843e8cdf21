# expect: none
# A finding waived ruff-style, with the rule's code on the flagged line.
from _support import SessionDep
from fastapi import BackgroundTasks
from sqlalchemy.ext.asyncio import AsyncSession


async def note(job_id: int, session: AsyncSession) -> None:
    print(job_id, session.info)


async def start(job_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    background_tasks.add_task(note, job_id, session)  # noqa: R1
