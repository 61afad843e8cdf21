# expect: R1
# The route loads the job in the request's session and hands the ORM object to the task.
from _support import Job, SessionDep
from fastapi import BackgroundTasks


async def notify(job: Job) -> None:
    print("job", job.id)


async def resend(job_id: int, background_tasks: BackgroundTasks, session: SessionDep) -> None:
    job = await session.get(Job, job_id)
    background_tasks.add_task(notify, job)
