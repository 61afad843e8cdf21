"""`make compare`: the same scenarios against both variants, on the same database.

Each variant is served by real uvicorn; each scenario is submitted over HTTP, its
background work awaited, and the job read back through the API. Exceptions are the ones
that escaped the background tasks, as uvicorn logged them. Prints one table and writes
the same rows as JSON.
"""

import json
import logging
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from playbook.app import VARIANTS, Variant, create_app
from playbook.database import get_pool_stats, prepare_database
from playbook.server import RunningApp, serve_in_process
from playbook.settings import PROJECT_ROOT, Settings

REPORTS = PROJECT_ROOT / "reports"
BACKGROUND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    body: dict


def _sites(count: int) -> list[str]:
    return [f"site-{n}.test" for n in range(1, count + 1)]


SCENARIOS = (
    Scenario("batch: 20 healthy sites", "/api/v3/batches", {"items": _sites(20)}),
    Scenario(
        "batch: 20 sites, 4 failing hosts",
        "/api/v3/batches",
        {"items": [*_sites(16), "fail-1.test", "missing-1.test", "timeout-1.test", "junk-1.test"]},
    ),
)


@dataclass
class Outcome:
    scenario: str
    variant: Variant
    total: int
    completed: int
    failed: int
    status: str
    exceptions: dict[str, int]
    seconds: float
    peak_connections: int
    failed_items: dict[str, str] = field(default_factory=dict)

    @property
    def processed(self) -> str:
        return f"{self.completed + self.failed}/{self.total}"


async def run_scenario(app: RunningApp, variant: Variant, scenario: Scenario) -> Outcome:
    escaped_before = len(app.escaped_exceptions)
    get_pool_stats().reset_peak()
    started = time.perf_counter()
    response = await app.client.post(scenario.path, json=scenario.body)
    response.raise_for_status()
    job_id = response.json()["id"]
    try:
        await app.wait_idle(BACKGROUND_TIMEOUT)
    except TimeoutError:
        pass  # reported through the status: the job is still non-terminal
    seconds = time.perf_counter() - started
    job = (await app.client.get(f"/api/v3/jobs/{job_id}")).json()
    escaped = Counter(type(exc).__name__ for exc in app.escaped_exceptions[escaped_before:])
    return Outcome(
        scenario=scenario.name,
        variant=variant,
        total=job["total_items"],
        completed=job["completed_count"],
        failed=job["failed_count"],
        status=job["status"],
        exceptions=dict(escaped),
        seconds=round(seconds, 3),
        peak_connections=get_pool_stats().peak,
        failed_items={item: result.removeprefix("failed: ") for item, result in job["item_results"].items() if result != "completed"},
    )


async def run_all(url: URL, settings: Settings) -> list[Outcome]:
    outcomes: list[Outcome] = []
    steps = len(VARIANTS) * len(SCENARIOS)
    for variant in VARIANTS:
        async with serve_in_process(create_app(variant, database_url=url, settings=settings)) as app:
            for scenario in SCENARIOS:
                print(f"[{len(outcomes) + 1}/{steps}] {variant:<12} {scenario.name} ...", end="", file=sys.stderr, flush=True)
                outcome = await run_scenario(app, variant, scenario)
                print(f" {outcome.status} in {outcome.seconds:.2f} s", file=sys.stderr)
                outcomes.append(outcome)
    return outcomes


def render_table(outcomes: list[Outcome]) -> str:
    header = f"  {'variant':<13}{'processed':>9}{'failed':>7}  {'status':<11}{'exceptions':<21}{'secs':>6}{'conns':>6}"
    lines = [header, "  " + "-" * (len(header) - 2)]
    for scenario in SCENARIOS:
        lines.append(scenario.name)
        for outcome in (o for o in outcomes if o.scenario == scenario.name):
            exceptions = ", ".join(f"{name}: {count}" for name, count in outcome.exceptions.items()) or "-"
            lines.append(
                f"  {outcome.variant:<13}{outcome.processed:>9}{outcome.failed:>7}  {outcome.status:<11}"
                f"{exceptions:<21}{outcome.seconds:>6.2f}{outcome.peak_connections:>6}"
            )
            lines.extend(f"{'':<17}failed {item}: {reason}" for item, reason in outcome.failed_items.items())
    return "\n".join(lines)


async def compare(settings: Settings) -> int:
    REPORTS.mkdir(exist_ok=True)
    log_path = REPORTS / "compare.log"
    # Tracebacks go to the log file; the terminal gets the table.
    logging.basicConfig(filename=log_path, filemode="w", level=logging.INFO, force=True)
    url = await prepare_database(settings, f"{settings.database_name}_compare", replace=True)
    started = time.perf_counter()
    outcomes = await run_all(url, settings)
    print()
    print(render_table(outcomes))
    json_path = REPORTS / "compare.json"
    json_path.write_text(json.dumps([asdict(outcome) for outcome in outcomes], indent=2) + "\n")
    print(f"\nexceptions: raised out of background tasks, as uvicorn logged them (tracebacks: {_relative(log_path)})")
    print("conns: peak connections checked out of the app's pool during the scenario")
    print(f"wrote {_relative(json_path)} in {time.perf_counter() - started:.1f} s")
    return 0


def _relative(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
