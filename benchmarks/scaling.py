"""The scaling figures from a pytest-benchmark JSON file: `python -m benchmarks.scaling FILE`.

Items per second of the one batch on each number of workers (`test_scaling_bench.py`),
the speed-up over one worker, and the peak connections to the database during the run,
all workers' pools and the sampler's own included; then the target: 4 workers at least
3.2 times the throughput of 1. `markdown` gives the same rows for the docs.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.test_scaling_bench import PART_SIZE, SERVICE
from playbook.app.settings import PROJECT_ROOT

TARGET = 3.2
SCALING = PROJECT_ROOT / "reports" / "bench" / "scaling.json"


@dataclass(frozen=True)
class WorkersRun:
    workers: str
    items: int
    seconds: float
    connections: int

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds


def runs(path: Path) -> list[WorkersRun]:
    """The scaling runs in `path`, fewest workers first."""
    return [
        WorkersRun(
            workers=bench["extra_info"]["variant"].removesuffix(" worker(s)"),
            items=bench["extra_info"]["items"],
            seconds=bench["stats"]["mean"],
            connections=bench["extra_info"]["connections"],
        )
        for bench in sorted(json.loads(path.read_text())["benchmarks"], key=lambda bench: int(bench["param"]))
        if bench["extra_info"].get("service") == SERVICE
    ]


def _speedup(run: WorkersRun, one: WorkersRun | None) -> str:
    return f"{run.items_per_second / one.items_per_second:.2f}x" if one else "-"


def _one_worker(measured: list[WorkersRun]) -> WorkersRun | None:
    return next((run for run in measured if run.workers == "1"), None)


def markdown(measured: list[WorkersRun]) -> str:
    one = _one_worker(measured)
    lines = ["| workers | seconds | items/s | speed-up | peak connections |", "|---:|---:|---:|---:|---:|"]
    lines += [
        f"| {run.workers} | {run.seconds:.1f} | {run.items_per_second:.1f} | {_speedup(run, one)} | {run.connections} |"
        for run in measured
    ]
    return "\n".join(lines) + "\n"


def verdict(measured: list[WorkersRun]) -> str:
    one, four = _one_worker(measured), next((run for run in measured if run.workers == "4"), None)
    items = measured[0].items
    if items < 4 * PART_SIZE:
        return f"4 workers/1 worker: not judged, {items} items are fewer than 4 parts of {PART_SIZE}"
    if one is None or four is None:
        return "4 workers/1 worker: not judged, both were not run (BENCH_WORKERS)"
    ratio = four.items_per_second / one.items_per_second
    return f"4 workers/1 worker: {ratio:.2f}x (target >= {TARGET}x): {'met' if ratio >= TARGET else 'NOT met'}"


def main(path: Path) -> int:
    measured = runs(path)
    if not measured:
        print(f"{SERVICE}: no results in {path}")
        return 0
    one = _one_worker(measured)
    print(f"{SERVICE} ({measured[0].items} items)")
    print(f"  {'workers':<12}{'seconds':>9}{'items/s':>9}{'speed-up':>10}{'conns':>7}")
    for run in measured:
        print(
            f"  {run.workers:<12}{run.seconds:>9.2f}{run.items_per_second:>9.1f}{_speedup(run, one):>10}"
            f"{run.connections:>7}"
        )
    print(verdict(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
