"""Ratio tables from a pytest-benchmark JSON file: `python -m benchmarks.report FILE`.

One table per service (the batch job, sitemaps, places), per size and upstream latency:
time per item, its ratio to the single-session baseline and to the raw asyncpg floor of
the same service, items per second, connections used; then the issue's targets, judged
on the batch job from the same run. Also writes the rows as JSON beside FILE.
"""

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BASELINE = "single_session"
FLOOR = "raw_asyncpg"
# What one item of each service is; results without a service are the batch job's.
ITEM_NAMES = {"batch": "items", "sitemap": "domains", "places": "pages"}


@dataclass(frozen=True)
class Row:
    service: str
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
    means = {_key(bench["extra_info"]): bench for bench in benchmarks}
    rows = []
    for (service, variant, items, latency_ms), bench in sorted(means.items(), key=_table_order):
        mean = bench["stats"]["mean"]
        baseline = means.get((service, BASELINE, items, latency_ms))
        floor = means.get((service, FLOOR, items, latency_ms))
        rows.append(
            Row(
                service=service,
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


def _key(extra_info: dict[str, Any]) -> tuple[str, str, int, int]:
    return extra_info.get("service", "batch"), extra_info["variant"], extra_info["items"], extra_info["latency_ms"]


def _table_order(keyed: tuple[tuple[str, str, int, int], dict[str, Any]]) -> tuple[int, str, int, int, str]:
    service, variant, items, latency_ms = keyed[0]
    return (
        list(ITEM_NAMES).index(service) if service in ITEM_NAMES else len(ITEM_NAMES),
        service,
        latency_ms,
        items,
        variant,
    )


def render(rows: list[Row]) -> str:
    """One table per service, in the order the rows come."""
    services = list(dict.fromkeys(row.service for row in rows))
    return "\n\n".join(
        _render_service(service, [row for row in rows if row.service == service]) for service in services
    )


def _render_service(service: str, rows: list[Row]) -> str:
    unit = ITEM_NAMES.get(service, "items")
    lines = [
        f"{service} ({unit})",
        f"{unit:>7} {'ms':>3}  {'variant':<25}{'ms/item':>8}{'/single':>8}{'/raw':>7}{'items/s':>9}{'conns':>6}",
    ]
    for row in rows:
        lines.append(
            f"{row.items:>7} {row.latency_ms:>3}  {row.variant:<25}{row.ms_per_item:>8.2f}"
            f"{row.vs_baseline:>7.2f}x{row.vs_floor:>6.2f}x{row.items_per_second:>9.1f}{row.connections:>6}"
        )
    return "\n".join(lines)


def judge_targets(rows: list[Row]) -> list[str]:
    """The targets of the performance work, judged at the largest batch measured."""
    batch = [row for row in rows if row.service == "batch"]
    if not batch:
        return ["no batch results: the targets are judged on the batch job"]
    by_key = {(row.variant, row.items, row.latency_ms): row for row in batch}
    largest = max(row.items for row in batch)
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
