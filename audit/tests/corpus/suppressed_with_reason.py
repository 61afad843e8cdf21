# expect: none
# A finding waived on purpose, with the reason on the line above.
from _support import Job, SessionDep
from fastapi import BackgroundTasks


async def log_job(job_id: int, session) -> None:
    print(job_id)


async def show(job_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    # playbook: ignore[R1] the task only prints the id; the session argument is unused
    background_tasks.add_task(log_job, job_id, session)
    await session.get(Job, job_id)
