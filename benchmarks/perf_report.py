"""`make perf-report`: one summary of the benchmarks and the load test, for people and the docs.

Reads what `make bench` (reports/bench/results.json) and `make load`
(reports/load/summary.json) wrote, and writes reports/perf/summary.json plus, for the
docs site, Markdown tables and PNG plots in docs/generated/perf/: the paired ratios and
throughput, the batch job's per-item breakdown, its memory runs, one batch on 1, 2 and 4
workers (reports/bench/scaling.json), and the load test.
Either input may be missing, and a bench run with `--ratios-only` has no breakdown or
memory; what is missing is said, never invented.
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from benchmarks import scaling
from benchmarks.breakdown import CATEGORIES, Breakdown
from benchmarks.memory import MemoryRun
from benchmarks.plan import quantity
from benchmarks.report import Row, is_bounded, ratio_text, rows
from benchmarks.results import RESULTS, BenchResults
from benchmarks.rss import MIB
from playbook.app.settings import PROJECT_ROOT

LOAD = PROJECT_ROOT / "reports" / "load" / "summary.json"
SUMMARY = PROJECT_ROOT / "reports" / "perf" / "summary.json"
DOCS = PROJECT_ROOT / "docs" / "generated" / "perf"


def bench_table(results: BenchResults) -> str:
    lines = [
        "| service | size | upstream latency | variant | ms / item | × single session | × raw asyncpg "
        "| items / s | connections | rounds |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.service} | {quantity(row.items, row.unit)} | {row.latency_ms} ms | `{row.variant}` "
        f"| {row.ms_per_item:.2f} | {ratio_text(row.vs_baseline, times='×')} | {ratio_text(row.vs_floor, times='×')} "
        f"| {row.items_per_second:.1f} "
        f"| {row.connections} | {row.rounds} |"
        for row in rows(results.comparisons)
    ]
    left_out = "".join(f"\n- left out: {left_out}" for left_out in results.left_out)
    return "\n".join(lines) + f"\n\n{_measured(results)}{left_out}\n"


def _measured(results: BenchResults) -> str:
    before, after = results.load_average
    return (
        f"Measured {results.started} in {results.seconds / 60:.0f} min on {results.cores} cores, 1-minute load"
        f" average {before:.1f} at the start and {after:.1f} at the end."
    )


def breakdown_table(breakdowns: list[Breakdown]) -> str:
    lines = [
        "| variant | wall | " + " | ".join(CATEGORIES) + " | statements / item | commits / item |",
        "|---|" + "---:|" * (len(CATEGORIES) + 3),
    ]
    for run in breakdowns:
        cells = " | ".join(_ms(run.ms_per_item(category)) for category in CATEGORIES)
        lines.append(
            f"| `{run.variant}` | {_ms(run.ms_per_item('wall'))} | {cells} "
            f"| {run.calls.get('statements', 0) / run.items:.2f} | {run.calls.get('commit', 0) / run.items:.2f} |"
        )
    return (
        "\n".join(lines) + f"\n\nMilliseconds per item, one instrumented run of {breakdowns[0].items} items at 0 ms.\n"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def memory_table(memory_runs: list[MemoryRun]) -> str:
    lines = [
        "| variant | ms / item | RSS before | peak | growth | second half's growth | bounded |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| `{run.variant}` | {1000 * run.seconds / run.items:.2f} | {run.rss_before / MIB:.1f} MiB "
        f"| {run.rss_peak / MIB:.1f} MiB | {run.growth / MIB:.1f} MiB | {run.second_half_growth / MIB:.1f} MiB "
        f"| {'yes' if is_bounded(run) else 'no'} |"
        for run in memory_runs
    ]
    return "\n".join(lines) + f"\n\nOne batch of {memory_runs[0].items} items at 0 ms per variant.\n"


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
        f"{v['variant']}: {v['jobs_not_terminal']} jobs left non-terminal, cheap p95 with jobs"
        f" {v['cheap_p95_ratio']:.2f}× alone, {_app_memory(v)}"
        for v in load["variants"]
    )
    return "\n".join(lines) + f"\n\n{outcome}. Machine: {load['cores']} cores.\n"


def _app_memory(variant: dict[str, Any]) -> str:
    if "app_rss_peak" not in variant:
        return "app memory not measured"
    return (
        f"app RSS {variant['app_rss_start'] / MIB:.0f} MiB when up and"
        f" {variant['app_rss_peak'] / MIB:.0f} MiB at most under load"
    )


def plot_throughput(all_rows: list[Row], path: Path) -> None:
    """One row of plots per service, one column per upstream latency."""
    services = list(dict.fromkeys(row.service for row in all_rows))
    latencies = sorted({row.latency_ms for row in all_rows})
    figure, axes = plt.subplots(
        len(services), len(latencies), figsize=(6 * len(latencies), 4 * len(services)), squeeze=False
    )
    for service_axes, service in zip(axes, services, strict=True):
        for axis, latency in zip(service_axes, latencies, strict=True):
            _plot_bars(axis, [row for row in all_rows if row.service == service and row.latency_ms == latency])
            axis.set_title(f"{service} throughput, upstream latency {latency} ms")
        service_axes[0].legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_bars(axis: Axes, subset: list[Row]) -> None:
    if not subset:
        axis.set_axis_off()
        return
    unit = subset[0].unit
    sizes = sorted({row.items for row in subset})
    variants = list(dict.fromkeys(row.variant for row in subset))
    width = 0.8 / len(variants)
    for index, variant in enumerate(variants):
        values = [
            next((row.items_per_second for row in subset if row.variant == variant and row.items == size), 0)
            for size in sizes
        ]
        axis.bar([n + index * width for n in range(len(sizes))], values, width, label=variant)
    axis.set_xticks([n + 0.4 - width / 2 for n in range(len(sizes))], [quantity(size, unit) for size in sizes])
    axis.set_yscale("log")
    axis.set_ylabel(f"{unit} / s")


def plot_breakdown(breakdowns: list[Breakdown], path: Path) -> None:
    """One stacked bar per variant: milliseconds per item by where they went."""
    figure, axis = plt.subplots(figsize=(9, 0.6 * len(breakdowns) + 1.5))
    labels = [run.variant for run in breakdowns]
    left = [0.0] * len(breakdowns)
    for category in CATEGORIES:
        widths = [run.ms_per_item(category) or 0.0 for run in breakdowns]
        axis.barh(labels, widths, left=left, label=category)
        left = [start + width for start, width in zip(left, widths, strict=True)]
    axis.invert_yaxis()
    axis.set_xlabel("ms per item (a concurrent variant's parts overlap: they add up to more than its wall time)")
    axis.set_title(f"where a batch item's time goes, {breakdowns[0].items} items at 0 ms")
    axis.legend(fontsize="small", ncols=len(CATEGORIES), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_memory(memory_runs: list[MemoryRun], path: Path) -> None:
    """RSS above its level before the job, against the share of the job done, per variant."""
    figure, axis = plt.subplots(figsize=(8, 4))
    for run in memory_runs:
        axis.plot(
            [100 * at / run.seconds for at, _ in run.samples],
            [(rss - run.rss_before) / MIB for _, rss in run.samples],
            label=f"{run.variant} (peak +{run.growth / MIB:.1f} MiB)",
        )
    axis.set_xlabel("share of the job's time (%)")
    axis.set_ylabel("RSS above before the job (MiB)")
    axis.set_title(f"memory while a {memory_runs[0].items}-item batch runs")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


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


def write_bench(results: BenchResults) -> None:
    (DOCS / "bench.md").write_text(bench_table(results))
    plot_throughput(rows(results.comparisons), DOCS / "throughput.png")
    # A run without a breakdown or memory runs (`--ratios-only`) leaves none from an earlier run behind.
    for name in ("breakdown", "memory"):
        for suffix in (".md", ".png"):
            (DOCS / name).with_suffix(suffix).unlink(missing_ok=True)
    if results.breakdown:
        (DOCS / "breakdown.md").write_text(breakdown_table(results.breakdown))
        plot_breakdown(results.breakdown, DOCS / "breakdown.png")
    if results.memory:
        (DOCS / "memory.md").write_text(memory_table(results.memory))
        plot_memory(results.memory, DOCS / "memory.png")


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    bench = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
    load = json.loads(LOAD.read_text()) if LOAD.exists() else None
    SUMMARY.write_text(json.dumps({"bench": bench, "load": load}, indent=1) + "\n")
    if bench:
        write_bench(BenchResults.load(RESULTS))
    else:
        print(f"no benchmark results in {RESULTS}: run `make bench` first", file=sys.stderr)
    if scaling.SCALING.exists():
        (DOCS / "scaling.md").write_text(scaling.markdown(scaling.runs(scaling.SCALING)))
    else:
        print(f"no scaling results in {scaling.SCALING}: run `make bench` first", file=sys.stderr)
    if load:
        (DOCS / "load.md").write_text(load_table(load))
        plot_latency(load, DOCS / "latency.png")
    else:
        print(f"no load results in {LOAD}: run `make load` first", file=sys.stderr)
    print(f"wrote {SUMMARY.relative_to(PROJECT_ROOT)} and {DOCS.relative_to(PROJECT_ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
