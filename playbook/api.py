"""Endpoints both variants serve unchanged: reading jobs back, and health.

Every read opens its own session, so what a client sees is what the database holds,
never an object left in some task's memory.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.database import get_engine
from playbook.models import BatchItem, Job
from playbook.schemas import BatchResults, Health, JobOut

router = APIRouter()


async def get_read_session():
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def _job_or_404(session: AsyncSession, job_id: uuid.UUID) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} not found")
    return job


@router.get("/api/v3/jobs/{job_id}", response_model=JobOut, responses={404: {"description": "No such job"}})
async def read_job(job_id: uuid.UUID, session: ReadSessionDep) -> Job:
    return await _job_or_404(session, job_id)


@router.get("/api/v3/jobs/{job_id}/results", response_model=BatchResults, responses={404: {"description": "No such job"}})
async def read_job_results(job_id: uuid.UUID, session: ReadSessionDep) -> BatchResults:
    await _job_or_404(session, job_id)
    items = await session.scalars(select(BatchItem).where(BatchItem.job_id == job_id).order_by(BatchItem.domain))
    return BatchResults(job_id=job_id, items=items.all())


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request, session: ReadSessionDep) -> Health | JSONResponse:
    variant = request.app.state.variant
    try:
        await session.execute(text("SELECT 1"))
    except Exception as exc:
        body = Health(status="degraded", variant=variant, database=f"{type(exc).__name__}: {exc}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", variant=variant, database="ok")
