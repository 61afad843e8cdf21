"""A complete background-job service in one file, the standard way: copy it, then grow it.

Run it against any PostgreSQL (FastAPI 0.121 or later, SQLAlchemy 2, asyncpg):

    DATABASE_URL=postgresql+asyncpg://user:password@host/db uvicorn docs_src.quickstart.service:app

Shows: the engine created and disposed with the app (R8); a route that commits the job and
hands the task its id and plain data (R1); a task that does its slow work with no session
open (R2) and writes in short sessions that commit, roll back or close on their own (R1, R3);
a job that always ends terminal with the error recorded (R5, R6).
Does not guarantee: that a job survives the process dying mid-way; that needs recovery
(a reaper, or a task engine that re-runs stalled jobs).
"""

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

logger = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "quickstart_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None]


class JobRequest(BaseModel):
    items: list[str] = Field(min_length=1, max_length=100)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    done: int
    error: str | None


_engine: AsyncEngine | None = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global _engine
    # The engine belongs to the loop that serves requests: created here, disposed at shutdown (R8).
    _engine = create_async_engine(os.environ["DATABASE_URL"])
    async with _engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield
    finally:
        await _engine.dispose()
        _engine = None


def get_engine() -> AsyncEngine:
    if _engine is None:
        raise RuntimeError("the engine is created in the app's lifespan")
    return _engine


async def get_session() -> AsyncIterator[AsyncSession]:
    # expire_on_commit=False: what was committed stays readable without another query (R3).
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        yield session


# scope="function": the request's session closes when the endpoint returns, before the
# background task runs, so the task can neither reach it nor keep its connection.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def get_background_session() -> AsyncIterator[AsyncSession]:
    """One short session for one operation: commit on success, roll back on error, always close."""
    async with AsyncSession(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


app = FastAPI(lifespan=lifespan)


@app.post("/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def create_job(body: JobRequest, background_tasks: BackgroundTasks, session: SessionDep) -> Job:
    job = Job()
    session.add(job)
    # Commit before scheduling, so the task finds the row.
    await session.commit()
    # The task gets the id and plain data: never the session, never the ORM object (R1).
    background_tasks.add_task(process_job, job.id, body.items)
    return job


@app.get("/jobs/{job_id}", response_model=JobOut)
async def read_job(job_id: uuid.UUID, session: SessionDep) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} not found")
    return job


async def process_job(job_id: uuid.UUID, items: list[str]) -> None:
    """The background task: every outcome written, and the job always ends terminal (R5)."""
    try:
        await set_status(job_id=job_id, status="processing")
        for item in items:
            await process_item(item)
            # One short session per write, opened after the slow part, not held across it (R2).
            async with get_background_session() as session:
                await session.execute(update(Job).where(Job.id == job_id).values(done=Job.done + 1))
        await set_status(job_id=job_id, status="completed")
    except BaseException as exc:
        # Logged with the job id and recorded on the row, in a fresh session (R6); a cancelled
        # task still ends its job before the cancellation goes on.
        logger.exception("job %s failed", job_id)
        await set_status(job_id=job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, Exception):
            raise


async def process_item(item: str) -> None:
    """Stands for the slow work: an HTTP call, a file, a computation. No session is open here."""
    await asyncio.sleep(0.01)
    if item.startswith("fail"):
        raise ValueError(f"cannot process {item!r}")


async def set_status(*, job_id: uuid.UUID, status: str, error: str | None = None) -> None:
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status=status, error=error))
