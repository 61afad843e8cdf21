"""`make load`: locust against each variant under real uvicorn, side by side.

One run: a fresh database (on the embedded server unless `DATABASE_URL` is set), the
upstream simulator served on 127.0.0.1, then for each variant in turn the app under
uvicorn in a process of its own, with a small pool and API keys, and four headless locust
phases against it: the cheap read alone; beside a hostile client sending oversized and
malformed requests; beside job submitters; beside both (`benchmarks/locustfile.py`).
Then the probes locust cannot make (`benchmarks/hostile.py`): 100 MB bodies, and the
largest job the caps allow read page by page. Then the app is stopped, which waits for
its background tasks, and its jobs are counted by final status straight from the
database: a job still pending or processing at that point will never finish.

Prints one table and writes the same figures to `reports/load/summary.json`; locust's CSV
and HTML reports and every process's log are under `reports/load/<variant>/`.

Shows: what background jobs and a hostile client cost the API's cheap read (p95 with them /
p95 alone), which requests fail or get a 5xx, which jobs are left non-terminal, the app's
resident memory when up and at its peak, its memory under 100 MB bodies and the longest
step its event loop ran (CPU time), per variant.
Does not guarantee: figures for another machine. Locust, the app, the simulator and
PostgreSQL share this machine's cores (the summary records how many), and latencies are
locust's, in its rounded buckets.
"""

import argparse
import asyncio
import csv
import json
import math
import os
import re
import shutil
import signal
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from benchmarks.hostile import LargestJobOutcome, OversizedOutcome, largest_job, oversized_bodies
from benchmarks.rss import MIB, peak_rss_bytes, reset_peak_rss, rss_bytes
from playbook.app.auth import owner_of
from playbook.app.models import TERMINAL_STATUSES, Job
from playbook.app.settings import PROJECT_ROOT, VARIANTS, Variant, get_settings
from playbook.harness.databases import prepare_database
from playbook.helpers import (
    child_env,
    child_process,
    free_port,
    stop_process,
    wait_until_serving,
)

LOAD_DATABASE = "playbook_load"
REPORTS = PROJECT_ROOT / "reports" / "load"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SHUTDOWN_TIMEOUT = 30.0
LOCUST_GRACE = 30.0  # locust's own start and report writing, beyond --run-time
# Names as the locustfile records them (importing it here would monkey-patch this process with gevent).
CHEAP_READ = ("GET", "/health")
JOB_RECORD_TYPE = "JOB"
HOSTILE_PREFIX = "hostile: "
# The app runs with its default limits. Each job submitter is a client with a key of its own,
# well within its rate limit; the hostile users are one client, past it. The probes have one too.
HOSTILE_KEY, PROBE_KEY = "load-hostile-client-000001", "load-probes-000000000001"


_SERVER_ERROR = re.compile(r'" 5\d\d ')
_LOOP_STEPS = re.compile(r"^event loop: .*$", re.MULTILINE)
_CAUGHT_ERROR = re.compile(r"CatchResponseError\((['\"])(.*)\1\)", re.DOTALL)


@dataclass(frozen=True)
class Plan:
    cheap_users: int
    job_users: int
    hostile_users: int
    alone_seconds: int
    jobs_seconds: int
    hostile_seconds: int
    probe_seconds: int
    latency_ms: int
    pool_size: int
    max_overflow: int
    pool_timeout: float


@dataclass(frozen=True)
class Phase:
    name: str
    users: dict[str, int]  # locust user class -> how many
    seconds: int


def submitter_keys(plan: Plan) -> list[str]:
    return [f"load-job-submitter-{number:06d}" for number in range(plan.job_users)]


def phases(plan: Plan) -> tuple[Phase, ...]:
    jobs = {"JobSubmitter": plan.job_users}
    hostile = {"HostileClient": plan.hostile_users}
    return (
        Phase("alone", {"CheapReader": plan.cheap_users}, plan.alone_seconds),
        Phase("hostile", {"CheapReader": plan.cheap_users, **hostile}, plan.hostile_seconds),
        Phase("with jobs", {"CheapReader": plan.cheap_users, **jobs}, plan.jobs_seconds),
        Phase("jobs+hostile", {"CheapReader": plan.cheap_users, **jobs, **hostile}, plan.hostile_seconds),
    )


@dataclass(frozen=True)
class Latencies:
    """Milliseconds at the 50th, 95th and 99th percentile."""

    p50: int
    p95: int
    p99: int


@dataclass
class PhaseOutcome:
    phase: str
    requests: int
    failures: int
    cheap: Latencies | None
    submission: Latencies | None
    jobs_accepted: int
    jobs_followed: int
    jobs_not_terminal_when_polled: int
    failure_reasons: dict[str, int]
    hostile_requests: int = 0
    hostile_not_refused: int = 0
    server_errors: int = 0  # 5xx answers in the app's access log during the phase


@dataclass
class VariantOutcome:
    variant: Variant
    phases: list[PhaseOutcome]
    jobs: dict[str, dict[str, int]]  # kind -> final status -> count, from the database
    app_shutdown: str
    exceptions_logged: int
    app_rss_start: int  # bytes resident once the app served its first request
    app_rss_peak: int  # the most resident over the locust phases
    oversized: OversizedOutcome | None = None
    largest_job: LargestJobOutcome | None = None
    loop_steps: str = ""

    @property
    def jobs_stored(self) -> int:
        return sum(sum(statuses.values()) for statuses in self.jobs.values())

    def jobs_with_status(self, status: str) -> int:
        return sum(statuses.get(status, 0) for statuses in self.jobs.values())

    @property
    def jobs_not_terminal_by_kind(self) -> dict[str, int]:
        counts = {
            kind: sum(count for status, count in statuses.items() if status not in TERMINAL_STATUSES)
            for kind, statuses in sorted(self.jobs.items())
        }
        return {kind: count for kind, count in counts.items() if count}

    @property
    def jobs_not_terminal(self) -> int:
        return sum(self.jobs_not_terminal_by_kind.values())

    @property
    def cheap_p95_ratio(self) -> float | None:
        """p95 of the cheap read with jobs running, over its p95 alone."""
        return self._cheap_p95_ratio("with jobs", "alone")

    @property
    def hostile_p95_ratio(self) -> float | None:
        """p95 of the cheap read beside the hostile client, over its p95 alone."""
        return self._cheap_p95_ratio("hostile", "alone")

    @property
    def hostile_over_jobs_p95_ratio(self) -> float | None:
        """What the hostile client adds to the jobs: p95 of the cheap read beside both, over beside the jobs."""
        return self._cheap_p95_ratio("jobs+hostile", "with jobs")

    def _cheap_p95_ratio(self, name: str, baseline: str) -> float | None:
        cheap = {phase.phase: phase.cheap for phase in self.phases}
        over, other = cheap.get(baseline), cheap.get(name)
        if over is None or other is None or over.p95 == 0:
            return None
        return round(other.p95 / over.p95, 2)


@contextmanager
def served_simulator(plan: Plan) -> Iterator[str]:
    port = free_port()
    log_path = REPORTS / "simulator.log"
    command = [sys.executable, "-m", "playbook", "simulator", "--port", str(port)]
    with child_process(command, env=child_env(UPSTREAM_LATENCY_MS=plan.latency_ms), log_path=log_path) as process:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, base_url + "/", log_path=log_path, headers={"host": "site-0.test"})
        yield base_url


def run_locust(phase: Phase, base_url: str, out_dir: Path, *, api_keys: list[str]) -> PhaseOutcome:
    prefix = out_dir / phase.name.replace(" ", "-")
    users = sum(phase.users.values())
    config = [{"user_class_name": name, "fixed_count": count} for name, count in phase.users.items()]
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *phase.users,
        "--headless", "--host", base_url, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{phase.seconds}s", "--only-summary",
        "--csv", str(prefix), "--html", f"{prefix}.html", "--json-file", str(prefix),
        "--config-users", json.dumps(config),
    ]  # fmt: skip
    log_path = prefix.with_suffix(".log")
    with child_process(
        command, env=child_env(LOAD_API_KEYS=",".join(api_keys), LOAD_HOSTILE_KEY=HOSTILE_KEY), log_path=log_path
    ) as locust:
        # Exit code 1 only says some requests failed; the figures below tell which.
        locust.wait(timeout=phase.seconds + LOCUST_GRACE)
    stats_path = prefix.with_suffix(".json")
    if not stats_path.exists():
        raise RuntimeError(f"locust wrote no statistics (exit code {locust.returncode}); see {log_path}")
    return summarize_phase(phase.name, json.loads(stats_path.read_text()), Path(f"{prefix}_failures.csv"))


def summarize_phase(name: str, entries: list[dict[str, Any]], failures_csv: Path) -> PhaseOutcome:
    http = [entry for entry in entries if entry["method"] != JOB_RECORD_TYPE]
    jobs = [entry for entry in entries if entry["method"] == JOB_RECORD_TYPE]
    hostile = [entry for entry in http if entry["name"].startswith(HOSTILE_PREFIX)]
    submissions = [entry for entry in http if entry["method"] == "POST" and entry not in hostile]
    return PhaseOutcome(
        phase=name,
        requests=sum(entry["num_requests"] for entry in http),
        failures=sum(entry["num_failures"] for entry in http),
        cheap=latencies([entry for entry in http if (entry["method"], entry["name"]) == CHEAP_READ]),
        submission=latencies(submissions),
        jobs_accepted=sum(entry["num_requests"] - entry["num_failures"] for entry in submissions),
        jobs_followed=sum(entry["num_requests"] for entry in jobs),
        jobs_not_terminal_when_polled=sum(entry["num_failures"] for entry in jobs),
        failure_reasons=read_failure_reasons(failures_csv),
        hostile_requests=sum(entry["num_requests"] for entry in hostile),
        hostile_not_refused=sum(entry["num_failures"] for entry in hostile),
    )


def latencies(entries: list[dict[str, Any]]) -> Latencies | None:
    """Percentiles over the merged response-time histograms of `entries` (locust's buckets)."""
    histogram: Counter[int] = Counter()
    for entry in entries:
        histogram.update({int(ms): count for ms, count in entry["response_times"].items()})
    if not histogram:
        return None
    return Latencies(*(_percentile(histogram, fraction) for fraction in (0.50, 0.95, 0.99)))


def _percentile(histogram: Counter[int], fraction: float) -> int:
    rank = math.ceil(fraction * histogram.total())
    seen = 0
    for milliseconds in sorted(histogram):
        seen += histogram[milliseconds]
        if seen >= rank:
            return milliseconds
    raise AssertionError("unreachable: rank is at most the total")


def read_failure_reasons(failures_csv: Path) -> dict[str, int]:
    """ "METHOD name: error" -> occurrences of failed HTTP requests, most frequent first."""
    if not failures_csv.exists():
        return {}
    with failures_csv.open() as file:
        rows = [
            (f"{row['Method']} {row['Name']}: {_unwrap(row['Error'])}", int(row["Occurrences"]))
            for row in csv.DictReader(file)
            if row["Method"] != JOB_RECORD_TYPE
        ]
    return dict(sorted(rows, key=lambda row: -row[1]))


def _unwrap(error: str) -> str:
    """The locustfile's own message, without the exception repr locust stores around it."""
    match = _CAUGHT_ERROR.fullmatch(error)
    return match.group(2) if match else error


async def count_jobs(database_url: URL, since: datetime) -> dict[str, dict[str, int]]:
    """Jobs created since `since`, by kind and final status."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Job.kind, Job.status, func.count()).where(Job.created_at >= since).group_by(Job.kind, Job.status)
            )
            jobs: dict[str, dict[str, int]] = {}
            for kind, status, count in rows:
                jobs.setdefault(kind, {})[status] = count
            return jobs
    finally:
        await engine.dispose()


def run_variant(variant: Variant, plan: Plan, database_url: URL, upstream_url: str) -> VariantOutcome:
    out_dir = REPORTS / variant
    out_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = out_dir / "app.log"
    env = child_env(
        DATABASE_URL=database_url.render_as_string(hide_password=False),
        DATABASE_NAME=database_url.database,
        POOL_SIZE=plan.pool_size,
        MAX_OVERFLOW=plan.max_overflow,
        POOL_TIMEOUT=plan.pool_timeout,
        UPSTREAM_URL=upstream_url,
        API_KEYS=",".join([*submitter_keys(plan), HOSTILE_KEY, PROBE_KEY]),
        LOOP_STEPS=1,
    )
    command = [sys.executable, "-m", "playbook", "serve", "--variant", variant, "--port", str(port)]
    started = datetime.now(UTC)
    probes: dict[str, object] = {}
    with child_process(command, env=env, log_path=log_path) as app:
        wait_until_serving(app, base_url + "/health", log_path=log_path)
        app_rss_start = rss_bytes(app.pid)
        reset_peak_rss(app.pid)
        outcomes = []
        for phase in phases(plan):
            print(f"  {variant}: {phase.name}, {phase.seconds} s, {phase.users} ...", file=sys.stderr, flush=True)
            log_before = log_path.stat().st_size
            outcomes.append(run_locust(phase, base_url, out_dir, api_keys=submitter_keys(plan)))
            outcomes[-1].server_errors = len(_SERVER_ERROR.findall(_read_from(log_path, log_before)))
        # The peak under the locust phases, before the probes measure their own.
        app_rss_peak = peak_rss_bytes(app.pid)
        if plan.probe_seconds:
            print(f"  {variant}: probes: 100 MB bodies, the largest job ...", file=sys.stderr, flush=True)
            probes = asyncio.run(run_probes(base_url, app.pid, database_url, seconds=plan.probe_seconds))
        print(f"  {variant}: stopping the app (it waits for its background tasks) ...", file=sys.stderr, flush=True)
        stopped_in_time = stop_process(app, timeout=SHUTDOWN_TIMEOUT)
    app_log = log_path.read_text()
    loop_steps = _LOOP_STEPS.search(app_log)
    return VariantOutcome(
        variant=variant,
        phases=outcomes,
        jobs=asyncio.run(count_jobs(database_url, since=started)),
        app_shutdown=_describe_shutdown(stopped_in_time, app_log),
        exceptions_logged=app_log.count("Exception in ASGI application"),
        app_rss_start=app_rss_start,
        app_rss_peak=app_rss_peak,
        loop_steps=loop_steps.group(0) if loop_steps else "",
        **probes,  # type: ignore[arg-type]
    )


async def run_probes(base_url: str, pid: int, database_url: URL, *, seconds: int) -> dict[str, object]:
    return {
        "oversized": await oversized_bodies(base_url, pid, PROBE_KEY, seconds=seconds),
        "largest_job": await largest_job(base_url, pid, database_url, api_key=PROBE_KEY, owner=owner_of(PROBE_KEY)),
    }


def _read_from(path: Path, offset: int) -> str:
    """What was written to `path` after its first `offset` bytes."""
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _describe_shutdown(stopped_in_time: bool, app_log: str) -> str:
    """ "clean", "incomplete" (ended, but its lifespan shutdown did not finish) or "killed" (SIGKILL)."""
    if not stopped_in_time:
        return "killed"
    return "clean" if "Application shutdown complete" in app_log else "incomplete"


LABEL_WIDTH = 26
CELL_WIDTH = 13


def render_table(outcomes: list[VariantOutcome]) -> str:
    """Metrics down, variants and phases across; per-variant figures sit under the last phase."""
    lines = [
        " " * LABEL_WIDTH + "".join(f"{outcome.variant:>{len(outcome.phases) * CELL_WIDTH}}" for outcome in outcomes),
        " " * LABEL_WIDTH + "".join(f"{phase.phase:>{CELL_WIDTH}}" for outcome in outcomes for phase in outcome.phases),
        "-" * (LABEL_WIDTH + CELL_WIDTH * sum(len(outcome.phases) for outcome in outcomes)),
    ]

    def phase_row(label: str, cell: Callable[[PhaseOutcome], object]) -> None:
        cells = [cell(phase) for outcome in outcomes for phase in outcome.phases]
        lines.append(f"{label:<{LABEL_WIDTH}}" + "".join(f"{_text(value):>{CELL_WIDTH}}" for value in cells))

    def variant_row(label: str, cell: Callable[[VariantOutcome], object]) -> None:
        cells = [value for outcome in outcomes for value in ("",) * (len(outcome.phases) - 1) + (cell(outcome),)]
        lines.append(f"{label:<{LABEL_WIDTH}}" + "".join(f"{_text(value):>{CELL_WIDTH}}" for value in cells))

    phase_row("requests", lambda phase: phase.requests)
    phase_row("failed requests", lambda phase: phase.failures)
    for percentile in ("p50", "p95", "p99"):
        # Each row's cells are computed before the loop moves on: the lambdas never outlive `percentile`.
        phase_row(f"cheap read {percentile} (ms)", lambda phase: phase.cheap and getattr(phase.cheap, percentile))  # noqa: B023
    for percentile in ("p50", "p95", "p99"):
        phase_row(
            f"job submission {percentile} (ms)",
            lambda phase: phase.submission and getattr(phase.submission, percentile),  # noqa: B023
        )
    phase_row("jobs accepted (202)", lambda phase: phase.jobs_accepted or None)
    phase_row("hostile requests", lambda phase: phase.hostile_requests or None)
    phase_row("hostile not refused", lambda phase: phase.hostile_requests and phase.hostile_not_refused)
    phase_row("5xx answers (app log)", lambda phase: phase.server_errors)
    phase_row("jobs polled: terminal/not", _polled_jobs)
    variant_row("jobs in the database", lambda outcome: outcome.jobs_stored)
    for status in ("completed", "partial", "failed"):
        variant_row(f"jobs {status}", lambda outcome: outcome.jobs_with_status(status))  # noqa: B023 (as above)
    variant_row("jobs non-terminal", lambda outcome: outcome.jobs_not_terminal)
    variant_row(
        "cheap p95 with jobs/alone", lambda outcome: outcome.cheap_p95_ratio and f"{outcome.cheap_p95_ratio:.2f}x"
    )
    variant_row(
        "cheap p95 hostile/alone", lambda outcome: outcome.hostile_p95_ratio and f"{outcome.hostile_p95_ratio:.2f}x"
    )
    variant_row(
        "cheap p95 jobs+hostile/jobs",
        lambda outcome: outcome.hostile_over_jobs_p95_ratio and f"{outcome.hostile_over_jobs_p95_ratio:.2f}x",
    )
    variant_row("exceptions in app log", lambda outcome: outcome.exceptions_logged)
    variant_row("app RSS when up (MiB)", lambda outcome: round(outcome.app_rss_start / MIB))
    variant_row("app peak RSS (MiB)", lambda outcome: round(outcome.app_rss_peak / MIB))
    variant_row("app shutdown", lambda outcome: outcome.app_shutdown)
    return "\n".join(lines)


def render_probes(outcomes: list[VariantOutcome]) -> str:
    """The probes' figures, one block per variant."""
    lines = []
    for outcome in outcomes:
        oversized, largest = outcome.oversized, outcome.largest_job
        if oversized is not None:
            lines += [
                f"{outcome.variant}: 100 MB bodies: one alone: {oversized.one_body}; three clients at once:"
                f" {', '.join(f'{count} x {status}' for status, count in oversized.statuses.items())}",
                f"  app memory {oversized.memory_idle_mb} MB idle, {oversized.memory_peak_mb} MB at most;"
                f" /health p95 {oversized.health_alone.p95} ms alone, {oversized.health_meanwhile.p95} ms meanwhile"
                f" (max {oversized.health_meanwhile.max} ms, {oversized.health_meanwhile.failed} not 200)",
            ]
        if largest is not None:
            lines += [
                f"{outcome.variant}: largest job, {largest.entries} entries in {largest.pages} pages"
                f" ({largest.server_errors} answers 5xx, asked again):"
                f" page p50 {largest.page.p50} ms, p95 {largest.page.p95} ms, max {largest.page.max} ms;"
                f" /health meanwhile p95 {largest.health_meanwhile.p95} ms, max {largest.health_meanwhile.max} ms,"
                f" {largest.health_meanwhile.failed} not 200;"
                f" app memory {largest.memory_idle_mb} -> {largest.memory_peak_mb} MB",
            ]
        if outcome.loop_steps:
            lines.append(f"{outcome.variant}: {outcome.loop_steps}")
    return "\n".join(lines)


def _polled_jobs(phase: PhaseOutcome) -> str | None:
    if not phase.jobs_followed:
        return None
    return f"{phase.jobs_followed - phase.jobs_not_terminal_when_polled}/{phase.jobs_not_terminal_when_polled}"


TABLE_LEGEND = """\
cheap read: GET /health, one SELECT 1 on a connection from the app's pool.
hostile: oversized and malformed requests; each must get the 4xx the contract names.
jobs accepted, polled: as locust saw them (polled: within its bounded wait).
jobs in the database ... non-terminal: counted after the app shut down.
exceptions: "Exception in ASGI application" in reports/load/<variant>/app.log.
app RSS: resident memory of the app's process once up, and its peak over the locust phases (VmHWM)."""


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def render_details(outcomes: list[VariantOutcome], reasons_per_phase: int = 3) -> str:
    """Which kinds of job never finished, and why requests failed (each reason cut at 80 columns)."""
    lines = []
    if any(outcome.jobs_not_terminal for outcome in outcomes):
        lines.append("non-terminal jobs by kind (still pending or processing after the app shut down):")
        for outcome in outcomes:
            kinds = ", ".join(f"{kind} {count}" for kind, count in outcome.jobs_not_terminal_by_kind.items()) or "none"
            lines.append(
                textwrap.fill(kinds, width=80, initial_indent=f"  {outcome.variant:<14}", subsequent_indent=" " * 16)
            )
    reasons = [
        f"  {outcome.variant}, {phase.phase}: {count} x {reason}"[:80]
        for outcome in outcomes
        for phase in outcome.phases
        for reason, count in list(phase.failure_reasons.items())[:reasons_per_phase]
    ]
    if reasons:
        lines.append("most frequent failed requests (all in reports/load/<variant>/*_failures.csv):")
        lines.extend(reasons)
    return "\n".join(lines)


def _cores() -> int:
    """Cores this process may run on (what `nproc` prints)."""
    return len(os.sched_getaffinity(0))


def write_summary(plan: Plan, outcomes: list[VariantOutcome], path: Path) -> None:
    summary = {
        "cores": _cores(),
        "plan": asdict(plan),
        "variants": [
            {
                **asdict(outcome),
                "jobs_not_terminal": outcome.jobs_not_terminal,
                "cheap_p95_ratio": outcome.cheap_p95_ratio,
                "hostile_p95_ratio": outcome.hostile_p95_ratio,
                "hostile_over_jobs_p95_ratio": outcome.hostile_over_jobs_p95_ratio,
            }
            for outcome in outcomes
        ],
    }
    path.write_text(json.dumps(summary, indent=2) + "\n")


def parse_plan(argv: list[str] | None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    add = parser.add_argument

    def add_from_env(option: str, default: int, what: str) -> None:
        """`--name`, defaulting to LOAD_NAME from the environment, then to `default`."""
        variable = "LOAD_" + option.removeprefix("--").replace("-", "_").upper()
        add(option, type=int, default=int(os.environ.get(variable, default)), help=f"{what} ({variable})")

    add_from_env("--cheap-users", 10, "cheap readers, every phase")
    add_from_env("--job-users", 10, "job submitters, the phases with jobs")
    add_from_env("--alone-seconds", 10, "cheap read alone")
    add_from_env("--jobs-seconds", 20, "cheap read with jobs")
    add_from_env("--hostile-users", 5, "hostile clients, the phases with a hostile client")
    add_from_env("--hostile-seconds", 20, "cheap read beside a hostile client, and beside it and jobs")
    add_from_env("--probe-seconds", 5, "seconds of 100 MB bodies; 0 skips the probes")
    add("--latency-ms", type=int, default=50, help="latency the simulator adds to every answer")
    add("--pool-size", type=int, default=3, help="the app's pool: a small one, so starvation shows")
    add("--max-overflow", type=int, default=0)
    add("--pool-timeout", type=float, default=2.0, help="seconds a request waits for a connection")
    return Plan(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    plan = parse_plan(argv)
    # SIGTERM (a CI timeout, say) unwinds like Ctrl-C, so every child is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    # A fresh folder: nothing from an earlier run can pass for this run's figures.
    shutil.rmtree(REPORTS, ignore_errors=True)
    REPORTS.mkdir(parents=True)
    # With no DATABASE_URL this starts the embedded server in this process, which stays up until it exits.
    database_url = asyncio.run(prepare_database(get_settings(), LOAD_DATABASE, replace=True))
    print(f"load: {_cores()} cores; {plan}", file=sys.stderr)
    with served_simulator(plan) as upstream_url:
        outcomes = [run_variant(variant, plan, database_url, upstream_url) for variant in VARIANTS]
    print()
    print(render_table(outcomes))
    print(TABLE_LEGEND)
    if probes := render_probes(outcomes):
        print()
        print(probes)
    if details := render_details(outcomes):
        print()
        print(details)
    summary_path = REPORTS / "summary.json"
    write_summary(plan, outcomes, summary_path)
    print(
        f"\n{_cores()} cores shared by locust, the app, the simulator and PostgreSQL;"
        f" wrote {summary_path.relative_to(PROJECT_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nload: interrupted; every process it started has been stopped", file=sys.stderr)
        sys.exit(130)
