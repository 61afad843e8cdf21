"""The tables of one `make bench` run: `python -m benchmarks.report [FILE]` (reports/bench/results.json).

Per service, per upstream latency and size: each variant's median time per item, its
ratio to the baseline (single session) and to the floor (raw asyncpg) as the median of
the per-round ratios with their interquartile range, items per second, the most
connections held at once, and the rounds. Then the sizes left out, the batch job's
per-item breakdown, its memory runs, and the targets judged on the batch job.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.breakdown import CATEGORIES, Breakdown
from benchmarks.memory import MemoryRun
from benchmarks.paired import ComparisonResult, Spread
from benchmarks.results import RESULTS, BenchResults
from benchmarks.rss import MIB

SEQUENTIAL, CONCURRENT = "standardized", "standardized_concurrent"
# Targets on the batch job: the sequential default at 0 ms against both baselines, at
# the largest size measured; and what concurrency buys at the largest latency.
TARGET_VS_BASELINE = 1.0
TARGET_VS_FLOOR = 1.5
TARGET_CONCURRENT_SPEEDUP = 6.0
# Memory is bounded when the second half of the job peaks at most this much above the first.
BOUNDED_SECOND_HALF_MIB = 1.0


@dataclass(frozen=True)
class Row:
    service: str
    unit: str
    items: int
    latency_ms: int
    variant: str
    ms_per_item: float  # the median round's
    vs_baseline: Spread | None  # None for the baseline itself
    vs_floor: Spread | None  # None for the floor itself, or where there is no floor
    items_per_second: float
    connections: int
    rounds: int


def rows(comparisons: list[ComparisonResult]) -> list[Row]:
    """Services in the order they ran, then by latency and size; variants in their comparison's order."""
    services = list(dict.fromkeys(result.service for result in comparisons))
    ordered = sorted(comparisons, key=lambda result: (services.index(result.service), result.latency_ms, result.items))
    return [_row(result, variant) for result in ordered for variant in result.variants]


def _row(result: ComparisonResult, variant: str) -> Row:
    median_seconds = result.seconds(variant).median
    floor = result.floor
    return Row(
        service=result.service,
        unit=result.unit,
        items=result.items,
        latency_ms=result.latency_ms,
        variant=variant,
        ms_per_item=1000 * median_seconds / result.items,
        vs_baseline=None if variant == result.baseline else result.ratio(variant, result.baseline),
        vs_floor=None if floor is None or variant == floor else result.ratio(variant, floor),
        items_per_second=result.items / median_seconds,
        connections=result.variants[variant].connections,
        rounds=result.rounds,
    )


def ratio_text(spread: Spread | None, *, times: str = "x") -> str:
    """`0.62x (0.60-0.65)`: the median and the interquartile range."""
    return "-" if spread is None else f"{spread.median:.2f}{times} ({spread.q1:.2f}-{spread.q3:.2f})"


def render_comparisons(results: BenchResults) -> str:
    all_rows = rows(results.comparisons)
    tables = []
    for service in dict.fromkeys(row.service for row in all_rows):
        service_rows = [row for row in all_rows if row.service == service]
        first = next(result for result in results.comparisons if result.service == service)
        unit = service_rows[0].unit
        lines = [
            f"{service} ({unit}; ratios: median of per-round ratios, interquartile range in brackets)",
            f"{unit:>7} {'ms':>3}  {'variant':<25}{'ms/item':>8}  {'/' + first.baseline:<21}"
            f"{'/' + (first.floor or '-'):<21}{'items/s':>9}{'conns':>6}{'rounds':>7}",
        ]
        lines += [
            f"{row.items:>7} {row.latency_ms:>3}  {row.variant:<25}{row.ms_per_item:>8.2f}  "
            f"{ratio_text(row.vs_baseline):<21}{ratio_text(row.vs_floor):<21}"
            f"{row.items_per_second:>9.1f}{row.connections:>6}{row.rounds:>7}"
            for row in service_rows
        ]
        tables.append("\n".join(lines))
    if results.left_out:
        tables.append("left out:\n" + "\n".join(f"  {left_out}" for left_out in results.left_out))
    return "\n\n".join(tables)


def render_breakdown(breakdowns: list[Breakdown]) -> str:
    items = breakdowns[0].items
    header = "".join(f"{category:>15}" for category in CATEGORIES)
    lines = [
        f"where a batch item's time goes: ms per item, one instrumented run of {items} items at 0 ms",
        f"{'variant':<25}{'wall':>8}{header}{'stmts/item':>12}{'commits/item':>14}",
    ]
    for run in breakdowns:
        cells = "".join(_ms(run.ms_per_item(category), width=15) for category in CATEGORIES)
        lines.append(
            f"{run.variant:<25}{_ms(run.ms_per_item('wall'), width=8)}{cells}"
            f"{run.calls.get('statements', 0) / items:>12.2f}{run.calls.get('commit', 0) / items:>14.2f}"
        )
    lines.append(
        "(a concurrent variant's timers overlap: they sum to more than its wall time, and `other` is not shown)"
    )
    return "\n".join(lines)


def _ms(value: float | None, *, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def is_bounded(run: MemoryRun) -> bool:
    return run.second_half_growth <= BOUNDED_SECOND_HALF_MIB * MIB


def render_memory(memory_runs: list[MemoryRun]) -> str:
    lines = [
        f"memory: one batch of {memory_runs[0].items} items at 0 ms per variant, each in a process of its own;"
        " RSS in MiB",
        f"{'variant':<25}{'ms/item':>8}{'before':>8}{'peak':>8}{'growth':>8}{'2nd half':>10}  bounded",
    ]
    lines += [
        f"{run.variant:<25}{1000 * run.seconds / run.items:>8.2f}{run.rss_before / MIB:>8.1f}"
        f"{run.rss_peak / MIB:>8.1f}{run.growth / MIB:>8.1f}{run.second_half_growth / MIB:>10.1f}"
        f"  {'yes' if is_bounded(run) else 'NO'}"
        for run in memory_runs
    ]
    lines.append(
        f"(growth: peak less RSS before the job; 2nd half: the second half's peak less the first's;"
        f" bounded: 2nd half <= {BOUNDED_SECOND_HALF_MIB:g} MiB)"
    )
    return "\n".join(lines)


def judge_targets(comparisons: list[ComparisonResult]) -> list[str]:
    batch = [result for result in comparisons if result.service == "batch"]
    at_zero = [result for result in batch if result.latency_ms == 0]
    verdicts = []
    if at_zero:
        largest = max(at_zero, key=lambda result: result.items)
        label = f"at 0 ms, {largest.items} items"
        verdicts.append(
            _verdict(
                f"standardized/single_session {label}", largest.ratio(SEQUENTIAL, largest.baseline), TARGET_VS_BASELINE
            )
        )
        if largest.floor:
            verdicts.append(
                _verdict(f"standardized/raw_asyncpg {label}", largest.ratio(SEQUENTIAL, largest.floor), TARGET_VS_FLOOR)
            )
    slow = [result for result in batch if result.latency_ms > 0]
    if slow:
        largest = max(slow, key=lambda result: (result.latency_ms, result.items))
        speedup = largest.ratio(SEQUENTIAL, CONCURRENT)
        verdicts.append(
            f"concurrent/sequential items/s at {largest.latency_ms} ms, {largest.items} items:"
            f" {ratio_text(speedup)} (target >= {TARGET_CONCURRENT_SPEEDUP:g}x):"
            f" {'met' if speedup.median >= TARGET_CONCURRENT_SPEEDUP else 'NOT met'};"
            f" {largest.variants[CONCURRENT].connections} connections"
        )
    return verdicts or ["no batch results: the targets are judged on the batch job"]


def _verdict(label: str, ratio: Spread, limit: float) -> str:
    met = "met" if ratio.median <= limit else "NOT met"
    interquartile = "within" if ratio.q3 <= limit else "not within" if ratio.q1 <= limit else "beyond"
    return f"{label}: {ratio_text(ratio)} (target <= {limit:g}x): {met}; interquartile range {interquartile}"


def render(results: BenchResults) -> str:
    before, after = results.load_average
    parts = [
        f"bench run of {results.started}, {results.seconds:.0f} s on {results.cores} cores"
        f" (1-minute load average {before:.1f} at the start, {after:.1f} at the end);"
        f" synchronous_commit {results.plan.get('synchronous_commit', 'on')}",
        render_comparisons(results),
    ]
    if results.breakdown:
        parts.append(render_breakdown(results.breakdown))
    if results.memory:
        parts.append(render_memory(results.memory))
    parts.append("\n".join(judge_targets(results.comparisons)))
    return "\n\n".join(parts)


def main(argv: list[str]) -> int:
    print(render(BenchResults.load(Path(argv[0]) if argv else RESULTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
