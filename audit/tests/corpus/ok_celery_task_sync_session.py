# expect: none
# A sync Celery task with a sync engine and Session: nothing async is driven from a thread.
from _support import Job
from celery import shared_task
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

engine = create_engine("postgresql+psycopg://localhost/app")


@shared_task
def close_job(job_id: int) -> None:
    with Session(engine) as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="completed"))
        session.commit()
