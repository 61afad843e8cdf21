"""`make perf-report`: one summary of the benchmarks and the load test, for people and the docs.

Reads what `make bench` (reports/bench/summary.json) and `make load`
(reports/load/summary.json) wrote, and writes reports/perf/summary.json plus, for the
docs site, Markdown tables and PNG plots in docs/generated/perf/. Either input may be
missing; what is missing is said, never invented.
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from benchmarks.report import ITEM_NAMES
from playbook.app.settings import PROJECT_ROOT

BENCH = PROJECT_ROOT / "reports" / "bench" / "summary.json"
LOAD = PROJECT_ROOT / "reports" / "load" / "summary.json"
SUMMARY = PROJECT_ROOT / "reports" / "perf" / "summary.json"
DOCS = PROJECT_ROOT / "docs" / "generated" / "perf"


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def bench_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| service | items | upstream latency | variant | ms / item | × single session | × raw asyncpg | items / s "
        "| connections |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['service']} | {r['items']} {_unit(r)} | {r['latency_ms']} ms | `{r['variant']}` "
        f"| {r['ms_per_item']:.2f} | {r['vs_baseline']:.2f} | {r['vs_floor']:.2f} "
        f"| {r['items_per_second']:.1f} | {r['connections']} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def _unit(row: dict[str, Any]) -> str:
    return ITEM_NAMES.get(row["service"], "items")


def load_table(load: dict[str, Any]) -> str:
    lines = [
        "| variant | phase | requests | failed | cheap p50 | cheap p95 | cheap p99 | submit p95 | jobs accepted |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in load["variants"]:
        for phase in variant["phases"]:
            cheap, submission = phase["cheap"], phase["submission"] or {}
            lines.append(
                f"| {variant['variant']} | {phase['phase']} | {phase['requests']} | {phase['failures']} "
                f"| {cheap['p50']} ms | {cheap['p95']} ms | {cheap['p99']} ms "
                f"| {submission.get('p95', '-')}{' ms' if submission else ''} | {phase['jobs_accepted']} |"
            )
    outcome = ", ".join(
        f"{v['variant']}: {v['jobs_not_terminal']} jobs left non-terminal,"
        f" cheap p95 with jobs {v['cheap_p95_ratio']:.2f}× alone"
        for v in load["variants"]
    )
    return "\n".join(lines) + f"\n\n{outcome}. Machine: {load['cores']} cores.\n"


def plot_throughput(rows: list[dict[str, Any]], path: Path) -> None:
    """One row of plots per service, one column per upstream latency."""
    services = list(dict.fromkeys(r["service"] for r in rows))
    latencies = sorted({r["latency_ms"] for r in rows})
    figure, axes = plt.subplots(
        len(services), len(latencies), figsize=(6 * len(latencies), 4 * len(services)), squeeze=False
    )
    for service_axes, service in zip(axes, services, strict=True):
        for axis, latency in zip(service_axes, latencies, strict=True):
            _plot_bars(axis, [r for r in rows if r["service"] == service and r["latency_ms"] == latency])
            axis.set_title(f"{service} throughput, upstream latency {latency} ms")
        service_axes[0].legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_bars(axis: Axes, subset: list[dict[str, Any]]) -> None:
    if not subset:
        axis.set_axis_off()
        return
    unit = _unit(subset[0])
    sizes = sorted({r["items"] for r in subset})
    variants = sorted({r["variant"] for r in subset})
    width = 0.8 / len(variants)
    for index, variant in enumerate(variants):
        values = [
            next((r["items_per_second"] for r in subset if r["variant"] == variant and r["items"] == s), 0)
            for s in sizes
        ]
        axis.bar([n + index * width for n in range(len(sizes))], values, width, label=variant)
    axis.set_xticks([n + 0.4 - width / 2 for n in range(len(sizes))], [f"{s} {unit}" for s in sizes])
    axis.set_yscale("log")
    axis.set_ylabel(f"{unit} / s")


def plot_latency(load: dict[str, Any], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 4))
    labels, groups = [], []
    for variant in load["variants"]:
        for phase in variant["phases"]:
            labels.append(f"{variant['variant']}\n{phase['phase']}")
            groups.append(phase["cheap"])
    for index, percentile in enumerate(("p50", "p95", "p99")):
        axis.bar(
            [n + index * 0.27 for n in range(len(groups))], [g[percentile] for g in groups], 0.27, label=percentile
        )
    axis.set_xticks([n + 0.27 for n in range(len(groups))], labels)
    axis.set_ylabel("ms")
    axis.set_title("cheap read endpoint under load")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> int:
    bench, load = _read(BENCH), _read(LOAD)
    DOCS.mkdir(parents=True, exist_ok=True)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps({"bench": bench, "load": load}, indent=2) + "\n")
    if bench:
        (DOCS / "bench.md").write_text(bench_table(bench))
        plot_throughput(bench, DOCS / "throughput.png")
    else:
        print(f"no benchmark results in {BENCH}: run `make bench` first", file=sys.stderr)
    if load:
        (DOCS / "load.md").write_text(load_table(load))
        plot_latency(load, DOCS / "latency.png")
    else:
        print(f"no load results in {LOAD}: run `make load` first", file=sys.stderr)
    print(f"wrote {SUMMARY.relative_to(PROJECT_ROOT)} and {DOCS.relative_to(PROJECT_ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
