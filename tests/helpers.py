"""Small steps the spec repeats: submit a job, wait for its background work, read it back."""

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.models import Base, Job, JobStatus
from playbook.harness.server import RunningApp

# The API keys of the `keyed_app` fixture (tests/conftest.py): two owners.
KEY_A, KEY_B = "owner-a-key-0000000000", "owner-b-key-0000000000"


async def submit(app: RunningApp, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await app.client.post(path, json=body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def run_to_end(app: RunningApp, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit a job, wait until its background work ended, and return the job as the API reads it."""
    accepted = await submit(app, path, body)
    await app.wait_idle()
    return await read_job(app, accepted["id"])


async def read_job(app: RunningApp, job_id: str) -> dict[str, Any]:
    response = await app.client.get(f"/api/v3/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def read_results(app: RunningApp, job_id: str) -> dict[str, Any]:
    response = await app.client.get(f"/api/v3/jobs/{job_id}/results")
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()
    return results


def aware(timestamp: str | None) -> datetime:
    assert timestamp is not None, "timestamp missing"
    parsed = datetime.fromisoformat(timestamp)
    assert parsed.tzinfo is not None, f"{timestamp} has no timezone"
    return parsed


async def count_rows(engine: AsyncEngine, model: type[Base]) -> int:
    async with AsyncSession(engine) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def error_messages(response_json: dict[str, Any]) -> str:
    """FastAPI's 422 detail as one string, to look for the message a person would read."""
    detail = response_json["detail"]
    return detail if isinstance(detail, str) else " | ".join(error["msg"] for error in detail)


async def assert_rejected_without_writing(
    app: RunningApp, engine: AsyncEngine, path: str, body: dict[str, Any], message: str
) -> None:
    """The request gets a 422 whose message contains `message`, and no job row is written."""
    jobs_before = await count_rows(engine, Job)
    response = await app.client.post(path, json=body)
    assert response.status_code == 422
    assert message in error_messages(response.json())
    assert await count_rows(engine, Job) == jobs_before


async def statuses_seen(app: RunningApp, accepted: dict[str, Any]) -> list[str]:
    """Every status the job showed, polled until its background work ended."""
    seen = [accepted["status"]]
    while not app.idle:
        status = (await read_job(app, accepted["id"]))["status"]
        if status != seen[-1]:
            seen.append(status)
        await asyncio.sleep(0.02)
    final = (await read_job(app, accepted["id"]))["status"]
    return seen if final == seen[-1] else [*seen, final]


async def leave_unfinished(engine: AsyncEngine, job_id: str) -> None:
    """Put a finished job back the way a process killed before its last write leaves it: processing."""
    async with AsyncSession(engine) as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.processing, end_time=None))
        await session.commit()
