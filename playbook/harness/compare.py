"""`make compare`: the same scenarios against both variants, on the same database.

Each variant is served by real uvicorn; each scenario is submitted over HTTP, its
background work awaited, and the job read back through the API. Exceptions are the ones
that escaped the background tasks, as uvicorn logged them. Prints one table and writes
the same rows as JSON.
"""

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from playbook.app.database import get_pool_stats
from playbook.app.factory import create_app
from playbook.app.settings import PROJECT_ROOT, VARIANTS, Settings, Variant
from playbook.harness.databases import prepare_database
from playbook.harness.faults import render_fault_table, run_fault_scenarios
from playbook.harness.server import EscapedExceptions, RunningApp, serve_in_process
from playbook.helpers import counted

REPORTS = PROJECT_ROOT / "reports"
BACKGROUND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Scenario:
    """Jobs submitted together (one per body), on an app with `settings` overridden."""

    name: str
    path: str
    bodies: tuple[dict[str, Any], ...]
    settings: dict[str, Any] = field(default_factory=dict)
    report_api: bool = False  # print how the API's own requests fared while the jobs ran


def _sites(count: int) -> list[str]:
    return [f"site-{n}.test" for n in range(1, count + 1)]


SCENARIOS = (
    Scenario("batch: 20 healthy sites", "/api/v3/batches", ({"items": _sites(20)},)),
    Scenario(
        "batch: 20 sites, 4 failing hosts",
        "/api/v3/batches",
        ({"items": [*_sites(16), "fail-1.test", "missing-1.test", "timeout-1.test", "junk-1.test"]},),
    ),
    Scenario("sitemap: scan one domain", "/api/v3/sitemap/scan", ({"domain": "site-1.test"},)),
    Scenario(
        "sitemap: batch of 4 domains, 1 malformed",
        "/api/v3/sitemap/batch",
        ({"domains": ["site-1.test", "flat-1.test", "norobots-1.test", "malformed-1.test"]},),
    ),
    Scenario("sitemap: batch of 1 domain", "/api/v3/sitemap/batch", ({"domains": ["site-1.test"]},)),
    Scenario("email: scan one site", "/api/v3/email-scraper/scan", ({"domain": "site-1.test"},)),
    Scenario("email: site with failing pages", "/api/v3/email-scraper/scan", ({"domain": "broken-1.test"},)),
    # 60 places on 4 pages, each 0.5 s away: a connection held across the pages outlasts
    # the 1 s anyone else waits for one.
    Scenario(
        "places: one search",
        "/api/v3/places/search",
        ({"query": "pizza restaurants downtown", "location": "Austin, TX"},),
        settings={"upstream_latency_ms": 500},
    ),
    Scenario(
        "places: 4 concurrent searches, pool of 2",
        "/api/v3/places/search",
        tuple(
            {"query": "pizza restaurants downtown", "location": city}
            for city in ("Austin, TX", "Boston, MA", "Chicago, IL", "Denver, CO")
        ),
        settings={"pool_size": 2, "pool_timeout": 1.0, "upstream_latency_ms": 500},
        report_api=True,
    ),
)


@dataclass
class ApiProbe:
    """The API's own requests (GET /api/v3/jobs/{id}) made while the jobs ran."""

    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


@dataclass
class Outcome:
    scenario: str
    variant: Variant
    total: int
    completed: int
    failed: int
    statuses: dict[str, int]
    exceptions: dict[str, int]
    logged_exceptions: dict[str, int]
    seconds: float
    peak_connections: int
    api_ok: int
    api_failed: int
    api_p95_seconds: float
    failed_items: dict[str, str] = field(default_factory=dict)

    @property
    def processed(self) -> str:
        return f"{self.completed + self.failed}/{self.total}"

    @property
    def status(self) -> str:
        """The one status of all jobs, or the least finished one when they differ."""
        order = ("pending", "processing", "failed", "partial", "completed")
        return min(self.statuses, key=order.index)


async def _probe_api(app: RunningApp, job_id: str, probe: ApiProbe) -> None:
    while not app.idle:
        started = time.perf_counter()
        response = await app.client.get(f"/api/v3/jobs/{job_id}")
        probe.latencies.append(time.perf_counter() - started)
        if response.status_code == 200:
            probe.ok += 1
        else:
            probe.failed += 1
        await asyncio.sleep(0.05)


async def run_scenario(app: RunningApp, variant: Variant, scenario: Scenario) -> Outcome:
    # What the service itself logged with a traceback: swallowed errors too, not only escaped ones.
    logged = EscapedExceptions()
    service_log = logging.getLogger(variant)
    service_log.addHandler(logged)
    try:
        return await _run_scenario(app, variant, scenario, logged)
    finally:
        service_log.removeHandler(logged)


async def _run_scenario(app: RunningApp, variant: Variant, scenario: Scenario, logged: EscapedExceptions) -> Outcome:
    get_pool_stats().reset_peak()
    started = time.perf_counter()
    responses = await asyncio.gather(*(app.client.post(scenario.path, json=body) for body in scenario.bodies))
    job_ids = [response.raise_for_status().json()["id"] for response in responses]
    probe = ApiProbe()
    try:
        async with asyncio.timeout(BACKGROUND_TIMEOUT):
            await asyncio.gather(app.wait_idle(), _probe_api(app, job_ids[0], probe))
    except TimeoutError:
        pass  # reported through the status: the jobs are still non-terminal
    seconds = time.perf_counter() - started
    jobs = [(await app.client.get(f"/api/v3/jobs/{job_id}")).json() for job_id in job_ids]
    return Outcome(
        scenario=scenario.name,
        variant=variant,
        total=sum(job["total_items"] for job in jobs),
        completed=sum(job["completed_count"] for job in jobs),
        failed=sum(job["failed_count"] for job in jobs),
        statuses=dict(Counter(job["status"] for job in jobs)),
        exceptions=dict(Counter(type(exc).__name__ for exc in app.escaped_exceptions)),
        logged_exceptions=dict(Counter(type(exc).__name__ for exc in logged.exceptions)),
        seconds=round(seconds, 3),
        peak_connections=get_pool_stats().peak,
        api_ok=probe.ok,
        api_failed=probe.failed,
        api_p95_seconds=round(probe.p95, 3),
        failed_items={
            item: result.removeprefix("failed: ")
            for job in jobs
            for item, result in job["item_results"].items()
            if result != "completed"
        },
    )


async def run_all(url: URL, settings: Settings) -> list[Outcome]:
    outcomes: list[Outcome] = []
    steps = len(VARIANTS) * len(SCENARIOS)
    for variant in VARIANTS:
        for scenario in SCENARIOS:
            print(
                f"[{len(outcomes) + 1}/{steps}] {variant:<12} {scenario.name} ...", end="", file=sys.stderr, flush=True
            )
            app_settings = settings.model_copy(update=scenario.settings)
            async with serve_in_process(create_app(variant, database_url=url, settings=app_settings)) as app:
                outcome = await run_scenario(app, variant, scenario)
            print(f" {outcome.status} in {outcome.seconds:.2f} s", file=sys.stderr)
            outcomes.append(outcome)
    return outcomes


def render_table(outcomes: list[Outcome]) -> str:
    header = f"  {'variant':<13}{'processed':>9}{'failed':>7}  {'status':<11}{'exceptions':<23}{'secs':>6}{'conns':>6}"
    lines = [header, "  " + "-" * (len(header) - 2)]
    for scenario in SCENARIOS:
        lines.append(scenario.name)
        for outcome in (o for o in outcomes if o.scenario == scenario.name):
            lines.append(
                f"  {outcome.variant:<13}{outcome.processed:>9}{outcome.failed:>7}  {outcome.status:<11}"
                f"{_counts(outcome.exceptions) or '-':<23}{outcome.seconds:>6.2f}{outcome.peak_connections:>6}"
            )
            lines.extend(_detail_lines(scenario, outcome))
    return "\n".join(lines)


def _detail_lines(scenario: Scenario, outcome: Outcome) -> list[str]:
    indent = " " * 17
    lines = []
    if len(outcome.statuses) > 1 or sum(outcome.statuses.values()) > 1:
        lines.append(indent + "jobs: " + counted(outcome.statuses))
    if scenario.report_api:
        lines.append(
            f"{indent}api while running: {outcome.api_ok} ok, {outcome.api_failed} failed,"
            f" p95 {outcome.api_p95_seconds:.2f} s"
        )
    if outcome.logged_exceptions:
        lines.append(f"{indent}logged by the service: {_counts(outcome.logged_exceptions)}")
    lines.extend(f"{indent}failed {item}: {reason}" for item, reason in outcome.failed_items.items())
    return [_fit(line) for line in lines]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {count}" for name, count in counts.items())


def _fit(line: str, width: int = 80) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


async def compare(settings: Settings) -> int:
    REPORTS.mkdir(exist_ok=True)
    log_path = REPORTS / "compare.log"
    # Tracebacks go to the log file; the terminal gets the table.
    logging.basicConfig(filename=log_path, filemode="w", level=logging.INFO, force=True)
    # Legacy code's never-awaited coroutines (F4) warn; into the log with the rest.
    logging.captureWarnings(True)
    url = await prepare_database(settings, f"{settings.database_name}_compare", replace=True)
    started = time.perf_counter()
    outcomes = await run_all(url, settings)
    print()
    print(render_table(outcomes))
    json_path = REPORTS / "compare.json"
    json_path.write_text(json.dumps([asdict(outcome) for outcome in outcomes], indent=2) + "\n")
    print("\nexceptions: escaped from tasks or requests, as uvicorn logged them")
    print(f"logged by the service: tracebacks it logged itself (see {_relative(log_path)})")
    print("conns: peak connections checked out of the pool, the API's own reads included")
    fault_logs = REPORTS / "compare-faults"
    fault_logs.mkdir(exist_ok=True)
    faults = await run_fault_scenarios(
        url, settings, fault_logs, progress=lambda step: print(f"[fault] {step} ...", file=sys.stderr)
    )
    print()
    print(render_fault_table(faults))
    faults_path = REPORTS / "compare-faults.json"
    faults_path.write_text(json.dumps([asdict(outcome) for outcome in faults], indent=2) + "\n")
    print("\nstored: items with an outcome stored; lost: items without; twice: items counted more than once")
    print("recovered: from the fault (the database: from its return) until the work went on (see docs/crash-safety.md)")
    print(f"wrote {_relative(json_path)} and {_relative(faults_path)} in {time.perf_counter() - started:.1f} s")
    return 0


def _relative(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
