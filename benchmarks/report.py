"""Ratio table from a pytest-benchmark JSON file: `python -m benchmarks.report FILE`.

Per batch size and upstream latency: time per item, its ratio to the single-session
baseline and to the raw asyncpg floor, items per second, connections used; then the
issue's targets, each judged from the same run. Also writes the rows as JSON beside FILE.
"""

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

BASELINE = "single_session"
FLOOR = "raw_asyncpg"


@dataclass(frozen=True)
class Row:
    variant: str
    items: int
    latency_ms: int
    ms_per_item: float
    vs_baseline: float
    vs_floor: float
    items_per_second: float
    connections: int


def load_rows(path: Path) -> list[Row]:
    benchmarks = json.loads(path.read_text())["benchmarks"]
    means = {(b["extra_info"]["variant"], b["extra_info"]["items"], b["extra_info"]["latency_ms"]): b for b in benchmarks}
    rows = []
    for (variant, items, latency_ms), bench in sorted(means.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        mean = bench["stats"]["mean"]
        baseline = means.get((BASELINE, items, latency_ms))
        floor = means.get((FLOOR, items, latency_ms))
        rows.append(
            Row(
                variant=variant,
                items=items,
                latency_ms=latency_ms,
                ms_per_item=1000 * mean / items,
                vs_baseline=mean / baseline["stats"]["mean"] if baseline else float("nan"),
                vs_floor=mean / floor["stats"]["mean"] if floor else float("nan"),
                items_per_second=items / mean,
                connections=bench["extra_info"]["connections"],
            )
        )
    return rows


def render(rows: list[Row]) -> str:
    lines = [f"{'items':>5} {'ms':>3}  {'variant':<25}{'ms/item':>8}{'/single':>8}{'/raw':>7}{'items/s':>9}{'conns':>6}"]
    for row in rows:
        lines.append(
            f"{row.items:>5} {row.latency_ms:>3}  {row.variant:<25}{row.ms_per_item:>8.2f}"
            f"{row.vs_baseline:>7.2f}x{row.vs_floor:>6.2f}x{row.items_per_second:>9.0f}{row.connections:>6}"
        )
    return "\n".join(lines)


def judge_targets(rows: list[Row]) -> list[str]:
    """The targets of the performance work, judged at the largest batch measured."""
    by_key = {(row.variant, row.items, row.latency_ms): row for row in rows}
    largest = max(row.items for row in rows)
    verdicts = []
    sequential = by_key.get(("standardized", largest, 0))
    if sequential:
        verdicts.append(_verdict(f"standardized/single-session at 0 ms, {largest} items", sequential.vs_baseline, 1.25))
        verdicts.append(_verdict(f"standardized/raw asyncpg at 0 ms, {largest} items", sequential.vs_floor, 2.0))
    slow_sequential = by_key.get(("standardized", largest, 50))
    concurrent = by_key.get(("standardized_concurrent", largest, 50))
    if slow_sequential and concurrent:
        speedup = concurrent.items_per_second / slow_sequential.items_per_second
        verdicts.append(
            f"concurrent/sequential items/s at 50 ms, {largest} items: {speedup:.1f}x (target >= 6x): "
            f"{'met' if speedup >= 6 else 'NOT met'}; {concurrent.connections} connections"
        )
    return verdicts


def _verdict(label: str, ratio: float, limit: float) -> str:
    return f"{label}: {ratio:.2f}x (target <= {limit}x): {'met' if ratio <= limit else 'NOT met'}"


def main(path: Path) -> int:
    rows = load_rows(path)
    print(render(rows))
    print()
    print("\n".join(judge_targets(rows)))
    path.with_name("summary.json").write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
