"""The endpoints that start background work (HTTP contract, DESIGN §5)."""

from fastapi import APIRouter, BackgroundTasks

from legacy.db import SessionDep
from legacy.services.batch.batch_functions import process_batch_with_own_session
from playbook.models import Job
from playbook.schemas import BatchRequest, JobOut

router = APIRouter(prefix="/api/v3")


@router.post("/batches", status_code=202, response_model=JobOut)
async def create_batch(body: BatchRequest, background_tasks: BackgroundTasks, session: SessionDep) -> JobOut:
    batch = Job(kind="batch", total_items=len(body.items))
    session.add(batch)
    await session.flush()
    accepted = JobOut.model_validate(batch)
    # Commit before scheduling, so the task finds the row.
    await session.commit()
    background_tasks.add_task(process_batch_with_own_session, batch, body.items, session)
    return accepted
