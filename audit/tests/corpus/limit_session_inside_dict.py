# expect: R1
# A known limit of the audit: a session tucked into a dict is not followed, so this is missed.
from _support import SessionDep
from fastapi import BackgroundTasks


async def audit_trail(context: dict) -> None:
    await context["session"].commit()


async def record(background_tasks: BackgroundTasks, session: SessionDep) -> None:
    background_tasks.add_task(audit_trail, {"session": session})
