"""The retry endpoint spec: `POST /api/v3/jobs/{id}/retry`, both variants (docs/contract.md).

A failed or partial job runs its failed and unprocessed items again (202); a job still
pending or processing, or one that completed, is refused (409); an unknown id is 404.
Legacy reopens the job and hands the batch job and the request session to the task, the
way it starts a new batch: the task dies on the expired job (F2) and the job stays
`pending` (F11); those runs are strict xfails.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import URL
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.auth import owner_of
from playbook.app.factory import create_app
from playbook.app.models import OPEN_OWNER, BatchItem, Job, JobStatus, utcnow
from playbook.app.settings import Settings
from playbook.harness.server import RunningApp, serve_in_process
from tests.faults import insert_job, stored_titles
from tests.helpers import KEY_A, KEY_B, read_job

ITEMS = ["alpha.test", "beta.test", "gamma.test"]
F2_F11 = "the task reads the expired job the retry committed; the job stays pending"


def retry_path(job_id: uuid.UUID | str) -> str:
    return f"/api/v3/jobs/{job_id}/retry"


EARLIER = "stored by the earlier run"


async def insert_batch(
    engine: AsyncEngine, *, status: JobStatus, outcomes: dict[str, str | None], owner: str = OPEN_OWNER
) -> uuid.UUID:
    """A batch of `owner` of `ITEMS` that recorded `outcomes` ({item: error or None}) and ended `status`;
    its item rows carry the title `EARLIER`, which a run that fetches the item again replaces."""
    failed = sum(error is not None for error in outcomes.values())
    return await insert_job(
        engine,
        kind="batch",
        owner=owner,
        status=status,
        params={"items": ITEMS},
        total_items=len(ITEMS),
        completed_count=len(outcomes) - failed,
        failed_count=failed,
        item_results={item: "completed" if error is None else f"failed: {error}" for item, error in outcomes.items()},
        error="Error processing item beta.test: HTTP 500" if failed else None,
        start_time=utcnow() - timedelta(minutes=1),
        end_time=utcnow() if status in (JobStatus.failed, JobStatus.partial, JobStatus.completed) else None,
        item_rows=[
            BatchItem(
                domain=item,
                status="completed" if error is None else "failed",
                error=error,
                title=EARLIER,
            )
            for item, error in outcomes.items()
        ],
    )


@pytest.fixture
async def batches(read_engine: AsyncEngine) -> AsyncIterator[list[uuid.UUID]]:
    """Deletes the batches a test inserted, so that no later app finds them."""
    inserted: list[uuid.UUID] = []
    yield inserted
    async with AsyncSession(read_engine) as session:
        await session.execute(delete(Job).where(Job.id.in_(inserted)))
        await session.commit()


@pytest.mark.fails_on_legacy("F2", "F11", reason=F2_F11)
async def test_retry_runs_the_failed_and_unprocessed_items_once_each(
    app: RunningApp, read_engine: AsyncEngine, batches: list[uuid.UUID]
) -> None:
    # beta.test failed (its upstream was down then), gamma.test never ran: the process died first.
    job_id = await insert_batch(
        read_engine, status=JobStatus.partial, outcomes={"alpha.test": None, "beta.test": "HTTP 500"}
    )
    batches.append(job_id)

    response = await app.client.post(retry_path(job_id))
    assert response.status_code == 202, response.text
    assert (response.json()["status"], response.json()["error"]) == ("pending", None)
    await app.wait_idle()

    job = await read_job(app, str(job_id))
    assert (job["status"], job["completed_count"], job["failed_count"], job["error"]) == ("completed", 3, 0, None)
    assert job["item_results"] == dict.fromkeys(ITEMS, "completed")
    # Each item stored once; the completed one kept, the others fetched now.
    assert await stored_titles(read_engine, job_id) == [
        ("alpha.test", EARLIER),
        ("beta.test", "Home of beta.test"),
        ("gamma.test", "Home of gamma.test"),
    ]
    assert app.escaped_exceptions == []


@pytest.mark.parametrize("status", [JobStatus.pending, JobStatus.processing, JobStatus.completed])
async def test_retry_of_a_job_not_failed_or_partial_is_409_and_changes_nothing(
    app: RunningApp, read_engine: AsyncEngine, batches: list[uuid.UUID], status: JobStatus
) -> None:
    outcomes: dict[str, str | None] = dict.fromkeys(ITEMS) if status == JobStatus.completed else {"alpha.test": None}
    job_id = await insert_batch(read_engine, status=status, outcomes=outcomes)
    batches.append(job_id)
    job_before = await read_job(app, str(job_id))

    response = await app.client.post(retry_path(job_id))

    assert response.status_code == 409
    assert response.json() == {"detail": f"job {job_id} is {status}: only a failed or partial job can be retried"}
    assert await read_job(app, str(job_id)) == job_before


async def test_retry_of_another_keys_job_is_404_and_changes_nothing(
    keyed_app: RunningApp, read_engine: AsyncEngine, batches: list[uuid.UUID]
) -> None:
    job_id = await insert_batch(
        read_engine, status=JobStatus.failed, outcomes={"beta.test": "HTTP 500"}, owner=owner_of(KEY_A)
    )
    batches.append(job_id)
    theirs = await keyed_app.client.post(retry_path(job_id), headers={"x-api-key": KEY_B})
    job = await keyed_app.client.get(f"/api/v3/jobs/{job_id}", headers={"x-api-key": KEY_A})

    # The answer for a job that does not exist: another key learns nothing, and retries nothing.
    assert (theirs.status_code, theirs.json()) == (404, {"detail": f"job {job_id} not found"})
    assert job.json()["status"] == "failed"


async def test_retry_of_an_unknown_job_is_404(app: RunningApp) -> None:
    job_id = "00000000-0000-4000-8000-000000000000"
    response = await app.client.post(retry_path(job_id))
    assert response.status_code == 404
    assert response.json() == {"detail": f"job {job_id} not found"}


@pytest.mark.legacy
async def test_legacy_retry_dies_with_missing_greenlet_after_the_202_F2(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, batches: list[uuid.UUID]
) -> None:
    job_id = await insert_batch(read_engine, status=JobStatus.failed, outcomes={"beta.test": "HTTP 500"})
    batches.append(job_id)
    async with serve_in_process(create_app("legacy", database_url=database_url, settings=settings)) as app:
        response = await app.client.post(retry_path(job_id))
        await app.wait_idle()
        [escaped] = app.escaped_exceptions

    assert response.status_code == 202
    assert type(escaped) is MissingGreenlet
    assert str(escaped).startswith("greenlet_spawn has not been called; can't call await_")
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, job_id)
    assert (stored.status, stored.failed_count, stored.item_results) == (
        "pending",
        1,
        {"beta.test": "failed: HTTP 500"},
    )
