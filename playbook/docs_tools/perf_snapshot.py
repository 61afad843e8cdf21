"""`make perf-report`, its last step: the measured figures the performance page shows, kept
as a committed snapshot, with where and when they were measured.

After `benchmarks.perf_report` has written the page's tables and plots from the last
`make bench` and `make load` (`PAGE_FILES`, in `docs/generated/perf/`), this copies them to
`docs/snapshots/perf/` beside what the three runs wrote (`RESULTS`: bench, load and
compare), tables of the compare run and of its fault scenarios, and the provenance: when
each run ended, the commit, the machine's cores, memory and processor, and the releases
it ran. The snapshot is
committed, and the page includes it, so a fresh clone's site shows figures; refreshing
them is `make bench load compare perf-report`, then committing `docs/snapshots/perf/`.
`PERF_SNAPSHOT=folder` records somewhere else (CI records its smoke runs under
`reports/`, leaving the committed figures alone).

`PAGE_FILES` and `RESULTS` are the only names of the report's files the docs know: when the
report's outputs change, they change here. It refuses to record when one is missing,
rather than publish a partial set.
"""

import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools.versions import locked_versions, postgresql_version
from playbook.helpers import counted

SNAPSHOT = PROJECT_ROOT / "docs" / "snapshots" / "perf"
GENERATED = PROJECT_ROOT / "docs" / "generated" / "perf"
REPORTS = PROJECT_ROOT / "reports"
PAGE_FILES = (
    "bench.md",
    "throughput.png",
    "breakdown.md",
    "breakdown.png",
    "memory.md",
    "memory.png",
    "scaling.md",
    "load.md",
    "latency.png",
)
# What each run wrote, and the name it has in the snapshot.
RESULTS = {
    "bench": REPORTS / "bench" / "results.json",
    "scaling": REPORTS / "bench" / "scaling.json",
    "load": REPORTS / "load" / "summary.json",
    "compare-faults": REPORTS / "compare-faults.json",
    "compare": REPORTS / "compare.json",
}
# What the runs exercise; the provenance names the last commit that changed any of it.
MEASURED_CODE = ("legacy", "standardized", "playbook/app", "playbook/upstream", "playbook/harness", "benchmarks")
RELEASES = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "uvicorn", "pytest-benchmark", "locust")
GIB = 1024**3


class Incomplete(RuntimeError):
    """A run or the report is missing: recording would mix figures of different runs."""


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        "processor": _processor(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _processor() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def commit() -> str:
    """The last commit that changed the measured code: it outlives rebases of docs-only work."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout

    last = git("log", "-1", "--format=%h", "--abbrev=12", "--", *MEASURED_CODE).strip()
    changed = git("status", "--porcelain", "--untracked-files=no", "--", *MEASURED_CODE).strip()
    return f"{last} with uncommitted changes" if changed else last


def provenance() -> dict[str, object]:
    locked = locked_versions()
    return {
        "recorded": _timestamp(datetime.now(UTC)),
        "runs ended": {
            name: _timestamp(datetime.fromtimestamp(path.stat().st_mtime, UTC)) for name, path in RESULTS.items()
        },
        "commit": commit(),
        "machine": machine(),
        "releases": {**{name: locked[name] for name in RELEASES}, "postgresql": postgresql_version()},
    }


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def render_provenance(recorded: dict[str, Any]) -> str:
    host, releases = recorded["machine"], recorded["releases"]
    runs = ", ".join(f"`{name}.json` {ended}" for name, ended in recorded["runs ended"].items())
    shown = ", ".join(f"{name} {version}" for name, version in releases.items())
    return (
        f"Measured on one machine: {host['cores']} cores ({host['processor']}), {host['memory_gib']} GiB of "
        f"memory, {host['system']}, Python {host['python']}; the benchmarks, the app, the upstream simulator "
        f"and PostgreSQL shared it. Results written (`make bench`, `load`, `compare`): {runs}; "
        f"code as of commit `{recorded['commit']}`. Releases: {shown}. "
        f"Recorded by `make perf-report` on {recorded['recorded']}.\n"
    )


def render_compare(outcomes: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | variant | processed | failed | jobs | exceptions | seconds | peak connections |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    for outcome in outcomes:
        processed = outcome["completed"] + outcome["failed"]
        jobs = counted(outcome["statuses"])
        raised = {**outcome["exceptions"], **outcome["logged_exceptions"]}
        exceptions = ", ".join(f"`{name}` × {count}" for name, count in raised.items()) or "-"
        lines.append(
            f"| {outcome['scenario']} | `{outcome['variant']}` | {processed}/{outcome['total']} | {outcome['failed']} "
            f"| {jobs} | {exceptions} | {outcome['seconds']:.2f} | {outcome['peak_connections']} |"
        )
    return "\n".join(lines) + "\n"


def render_faults(outcomes: list[dict[str, Any]]) -> str:
    lines = [
        "| fault scenario | variant | items stored | lost | twice | jobs | recovered |",
        "|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        if outcome["not_applicable"]:
            lines.append(f"| {outcome['scenario']} | {outcome['variant']} | n/a: {outcome['not_applicable']} | | | | |")
            continue
        jobs = counted(outcome["statuses"])
        seconds = outcome["recovery_seconds"]
        recovered = "never" if seconds is None else f"{seconds:.1f} s"
        lines.append(
            f"| {outcome['scenario']} | {outcome['variant']} | {outcome['stored']}/{outcome['total']} "
            f"| {outcome['lost']} | {outcome['twice']} | {jobs} | {recovered} |"
        )
    return "\n".join(lines) + "\n"


def record(destination: Path) -> list[str]:
    """Copy the report's page files and the runs' results to `destination`; return what was written."""
    inputs = [*(GENERATED / name for name in PAGE_FILES), *RESULTS.values()]
    missing = [_shown(path) for path in inputs if not path.exists()]
    if missing:
        raise Incomplete(
            f"missing {', '.join(missing)}: run make bench, make load, make compare, then make perf-report"
        )
    destination.mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(GENERATED / name, destination / name)
    for name, path in RESULTS.items():
        shutil.copyfile(path, destination / f"{name}.json")
    recorded = provenance()
    (destination / "provenance.json").write_text(json.dumps(recorded, indent=2) + "\n")
    (destination / "provenance.md").write_text(render_provenance(recorded))
    (destination / "compare.md").write_text(render_compare(json.loads(RESULTS["compare"].read_text())))
    (destination / "compare-faults.md").write_text(render_faults(json.loads(RESULTS["compare-faults"].read_text())))
    return sorted(path.name for path in destination.iterdir())


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def main() -> int:
    destination = Path(os.environ.get("PERF_SNAPSHOT", SNAPSHOT)).resolve()
    try:
        written = record(destination)
    except Incomplete as exc:
        print(f"perf snapshot: {exc}; {destination} is unchanged", file=sys.stderr)
        return 1
    print(f"perf snapshot: {', '.join(written)} in {destination}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
