"""`make compare`'s fault scenarios: batches hit by a killed worker, a restarted database, a killed app.

Each scenario runs the same batches on both variants, with the documented settings
(`Settings` defaults but for the upstream latency), and reads the jobs back from the
database: how many items have an outcome stored (none lost), whether any was counted
twice, the jobs' statuses, and how long recovery took, measured from the fault to the
moment the work went on: the killed worker's part running again elsewhere, the
killed app's job taken over by the app started in its place; for the database, from its
return to the first item stored after it. A job that makes no progress for `NO_PROGRESS_FOR` seconds is
reported as it stands. Legacy runs BackgroundTasks only: the worker scenario does not
apply to it.
"""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from playbook.app.factory import create_app
from playbook.app.models import TERMINAL_STATUSES
from playbook.app.settings import VARIANTS, Settings, Variant
from playbook.harness.databases import prepare_database
from playbook.harness.embedded import throwaway_server
from playbook.harness.processes import process_env, running_workers, served_app
from playbook.harness.server import serve_in_process
from playbook.helpers import counted

ITEMS_PER_BATCH = 60
LATENCY_MS = 100  # each item takes a tenth of a second upstream: a batch runs for several seconds
STARTED_ITEMS = 15  # the fault strikes once this many items of the first batch are stored
OUTAGE_SECONDS = 5.0
NO_PROGRESS_FOR = 20.0
STARTED_WITHIN = 15.0
PART_SIZE = 10


@dataclass
class FaultOutcome:
    scenario: str
    variant: Variant
    not_applicable: str | None = None
    total: int = 0
    stored: int = 0
    lost: int = 0
    twice: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    recovery_seconds: float | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class FaultScenario:
    name: str
    run: Callable[[Variant, Settings, URL, Path], Awaitable[FaultOutcome]]


def _batch(batch: int) -> list[str]:
    return [f"fault-{batch}-{n}.test" for n in range(ITEMS_PER_BATCH)]


async def _submit(client: httpx.AsyncClient, batches: int) -> list[str]:
    responses = [await client.post("/api/v3/batches", json={"items": _batch(n)}) for n in range(batches)]
    return [response.raise_for_status().json()["id"] for response in responses]


async def _progress(engine: AsyncEngine, job_ids: list[str]) -> list[tuple[str, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT status, completed_count + failed_count FROM jobs WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(job_id) for job_id in job_ids]},
        )
        return [(status, done) for status, done in rows]


async def _wait_for(condition: Callable[[], Awaitable[bool]], *, within: float) -> float | None:
    """Seconds until `condition` held, or None if it did not within `within` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await condition():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    return None


async def _until_started(engine: AsyncEngine, job_id: str) -> None:
    """Until the job stored `STARTED_ITEMS` items; the fault strikes anyway if it never gets there (legacy)."""

    async def started() -> bool:
        return (await _progress(engine, [job_id]))[0][1] >= STARTED_ITEMS

    await _wait_for(started, within=STARTED_WITHIN)


async def _until_settled(engine: AsyncEngine, job_ids: list[str]) -> None:
    """Until every job is terminal, or none made progress for `NO_PROGRESS_FOR` seconds."""
    last, still_since = await _progress(engine, job_ids), time.monotonic()
    while any(status not in TERMINAL_STATUSES for status, _ in last):
        await asyncio.sleep(0.2)
        now = await _progress(engine, job_ids)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > NO_PROGRESS_FOR:
            return


async def _tally(engine: AsyncEngine, job_ids: list[str], outcome: FaultOutcome) -> FaultOutcome:
    """Items stored once, lost (no outcome stored) and counted twice, across the jobs."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT j.status, j.total_items, j.completed_count + j.failed_count AS counted,"
                " (SELECT count(*) FROM jsonb_object_keys(j.item_results)) AS outcomes,"
                " (SELECT count(*) FROM batch_items b WHERE b.job_id = j.id) AS item_rows,"
                " (SELECT count(DISTINCT b.domain) FROM batch_items b WHERE b.job_id = j.id) AS distinct_rows"
                " FROM jobs j WHERE j.id = ANY(:ids)"
            ),
            {"ids": [uuid.UUID(job_id) for job_id in job_ids]},
        )
        jobs = rows.all()
    outcome.total = sum(job.total_items for job in jobs)
    outcome.stored = sum(min(job.outcomes, job.distinct_rows) for job in jobs)
    outcome.lost = outcome.total - outcome.stored
    outcome.twice = sum((job.counted - job.outcomes) + (job.item_rows - job.distinct_rows) for job in jobs)
    outcome.statuses = dict(Counter(job.status for job in jobs))
    return outcome


async def worker_killed(variant: Variant, settings: Settings, url: URL, log_dir: Path) -> FaultOutcome:
    outcome = FaultOutcome(scenario=WORKER_KILLED, variant=variant)
    if variant == "legacy":
        outcome.not_applicable = "legacy runs jobs in BackgroundTasks only: no worker to kill"
        return outcome
    started = time.monotonic()
    env = process_env(url, {"worker_concurrency": 1, "upstream_latency_ms": LATENCY_MS})
    app_settings = settings.model_copy(update={"executor": "procrastinate", "batch_part_size": PART_SIZE})
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        with running_workers(2, env=env, log_dir=log_dir) as workers:
            async with serve_in_process(create_app(variant, database_url=url, settings=app_settings)) as app:
                [job_id] = await _submit(app.client, 1)
                await _until_started(engine, job_id)
                victim_pid, running = await _running_parts(engine, job_id)
                [victim] = [worker for worker in workers if worker.pid == victim_pid]
                victim.kill()
                outcome.recovery_seconds = await _wait_for(
                    lambda: _run_again(engine, running), within=NO_PROGRESS_FOR + settings.dead_after
                )
                if outcome.recovery_seconds is not None:
                    await _until_settled(engine, [job_id])
        outcome.seconds = time.monotonic() - started
        return await _tally(engine, [job_id], outcome)
    finally:
        await engine.dispose()


async def _running_parts(engine: AsyncEngine, job_id: str) -> tuple[int, list[int]]:
    """The pid of the worker the job row names, and the queue entries running now."""
    async with engine.connect() as connection:
        pid = await connection.scalar(
            text("SELECT i.pid FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE j.id = :id"), {"id": job_id}
        )
        running = await connection.scalars(
            text("SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND args->>'job_id' = :id"), {"id": job_id}
        )
        return pid, list(running)


async def _run_again(engine: AsyncEngine, entries: list[int]) -> bool:
    """Whether one of `entries` was queued again after its worker stalled, and is running (or done) now.

    `entries` are every part running when the worker was killed, the other worker's too: one
    that is gone may have succeeded on that worker, so only an entry seen run again counts.
    """
    async with engine.connect() as connection:
        retried = await connection.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(:ids) AND attempts > 0 AND status <> 'todo'"),
            {"ids": entries},
        )
        return bool(retried)


async def database_restarted(variant: Variant, settings: Settings, _url: URL, log_dir: Path) -> FaultOutcome:
    """The app runs the batches itself (background mode)."""
    outcome = FaultOutcome(scenario=DATABASE_RESTARTED, variant=variant)
    return await _outage(outcome, settings, log_dir, workers=0)


async def database_restarted_on_workers(variant: Variant, settings: Settings, _url: URL, log_dir: Path) -> FaultOutcome:
    """Two procrastinate workers run the batches, in parts."""
    outcome = FaultOutcome(scenario=DATABASE_RESTARTED_ON_WORKERS, variant=variant)
    if variant == "legacy":
        outcome.not_applicable = "legacy runs jobs in BackgroundTasks only: no workers"
        return outcome
    return await _outage(outcome, settings, log_dir, workers=2)


async def _outage(outcome: FaultOutcome, settings: Settings, log_dir: Path, *, workers: int) -> FaultOutcome:
    """Three batches at once on a server of its own, stopped abruptly mid-job and started again."""
    started = time.monotonic()
    with throwaway_server() as server, ExitStack() as processes:
        server_settings = settings.model_copy(update={"database_url": server.url.render_as_string(hide_password=False)})
        url = await prepare_database(server_settings, "faults", replace=True)
        engine = create_async_engine(url, poolclass=NullPool)
        app_settings = server_settings.model_copy(
            update={"upstream_latency_ms": LATENCY_MS, "batch_part_size": PART_SIZE}
            | ({"executor": "procrastinate"} if workers else {})
        )
        if workers:
            env = process_env(url, {"upstream_latency_ms": LATENCY_MS}, own_server=True)
            processes.enter_context(running_workers(workers, env=env, log_dir=log_dir))
        try:
            async with serve_in_process(create_app(outcome.variant, database_url=url, settings=app_settings)) as app:
                # Three batches at once: every one of them must come through.
                job_ids = await _submit(app.client, 3)
                await _until_started(engine, job_ids[0])
                await asyncio.to_thread(server.crash_and_restart, down_for=OUTAGE_SECONDS)
                # Counted once the database is back: what was committed before the crash is not recovery.
                before = sum(done for _, done in await _progress(engine, job_ids))

                async def progressed() -> bool:
                    return sum(done for _, done in await _progress(engine, job_ids)) > before

                outcome.recovery_seconds = await _wait_for(progressed, within=NO_PROGRESS_FOR)
                if outcome.recovery_seconds is not None:
                    await _until_settled(engine, job_ids)
            outcome.seconds = time.monotonic() - started
            return await _tally(engine, job_ids, outcome)
        finally:
            await engine.dispose()


async def app_restarted(variant: Variant, settings: Settings, url: URL, log_dir: Path) -> FaultOutcome:
    outcome = FaultOutcome(scenario=APP_RESTARTED, variant=variant)
    started = time.monotonic()
    env = process_env(url, {"upstream_latency_ms": LATENCY_MS})
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        with served_app(variant, env=env, log_dir=log_dir) as app:
            async with httpx.AsyncClient(base_url=app.base_url, timeout=30) as client:
                [job_id] = await _submit(client, 1)
            await _until_started(engine, job_id)
            owner = await _owner(engine, job_id)
            app.kill()
            killed_at = time.monotonic()
            app.start()

            async def taken_over() -> bool:
                return await _owner(engine, job_id) not in (owner, None)

            if await _wait_for(taken_over, within=NO_PROGRESS_FOR + settings.dead_after) is not None:
                outcome.recovery_seconds = time.monotonic() - killed_at
                await _until_settled(engine, [job_id])
        outcome.seconds = time.monotonic() - started
        return await _tally(engine, [job_id], outcome)
    finally:
        await engine.dispose()


async def _owner(engine: AsyncEngine, job_id: str) -> uuid.UUID | None:
    async with engine.connect() as connection:
        owner: uuid.UUID | None = await connection.scalar(
            text("SELECT instance_id FROM jobs WHERE id = :id"), {"id": job_id}
        )
        return owner


WORKER_KILLED = f"batch of {ITEMS_PER_BATCH}: a worker killed mid-job"
DATABASE_RESTARTED = f"3 batches of {ITEMS_PER_BATCH}: database down {OUTAGE_SECONDS:g} s mid-job"
DATABASE_RESTARTED_ON_WORKERS = f"the same on 2 workers: database down {OUTAGE_SECONDS:g} s"
APP_RESTARTED = f"batch of {ITEMS_PER_BATCH}: app killed mid-job, started again"

FAULT_SCENARIOS = (
    FaultScenario(WORKER_KILLED, worker_killed),
    FaultScenario(DATABASE_RESTARTED, database_restarted),
    FaultScenario(DATABASE_RESTARTED_ON_WORKERS, database_restarted_on_workers),
    FaultScenario(APP_RESTARTED, app_restarted),
)


async def run_fault_scenarios(
    url: URL, settings: Settings, log_dir: Path, progress: Callable[[str], None]
) -> list[FaultOutcome]:
    outcomes = []
    for scenario in FAULT_SCENARIOS:
        for variant in VARIANTS:
            progress(f"{variant:<12} {scenario.name}")
            outcomes.append(await scenario.run(variant, settings, url, log_dir))
    return outcomes


def render_fault_table(outcomes: list[FaultOutcome]) -> str:
    header = f"  {'variant':<13}{'stored':>9}{'lost':>6}{'twice':>6}  {'status':<24}{'recovered':>10}"
    lines = [header, "  " + "-" * (len(header) - 2)]
    for scenario in FAULT_SCENARIOS:
        lines.append(scenario.name)
        for outcome in (o for o in outcomes if o.scenario == scenario.name):
            if outcome.not_applicable:
                lines.append(f"  {outcome.variant:<13}{'n/a: ' + outcome.not_applicable}"[:80])
                continue
            statuses = counted(outcome.statuses)
            recovered = "never" if outcome.recovery_seconds is None else f"{outcome.recovery_seconds:.1f} s"
            lines.append(
                f"  {outcome.variant:<13}{outcome.stored:>4}/{outcome.total:<4}{outcome.lost:>6}{outcome.twice:>6}"
                f"  {statuses:<24}{recovered:>10}"
            )
    return "\n".join(lines)
