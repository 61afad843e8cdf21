"""The endpoints that start background work (HTTP contract, DESIGN §5)."""

from fastapi import APIRouter, BackgroundTasks

from playbook.models import Job
from playbook.schemas import BatchRequest, JobOut
from standardized.db import SessionDep
from standardized.services.batch.batch_functions import process_batch_with_own_session

router = APIRouter(prefix="/api/v3")


@router.post("/batches", status_code=202, response_model=JobOut)
async def create_batch(body: BatchRequest, background_tasks: BackgroundTasks, session: SessionDep) -> Job:
    batch = Job(kind="batch", total_items=len(body.items))
    session.add(batch)
    # Commit before scheduling, so the task finds the row.
    await session.commit()
    # Hand over the id and plain data, never the session or the ORM object (R1).
    background_tasks.add_task(process_batch_with_own_session, batch.id, body.items)
    return batch
