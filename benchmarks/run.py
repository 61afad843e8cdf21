"""`make bench`: every service's paired comparisons, the per-item breakdown and the memory runs.

`python -m benchmarks.run [--out FILE] [--ratios-only]`. One process, one database: for
each upstream latency, each suite's comparisons in turn (`benchmarks/paired.py`), smallest
first; then, unless `--ratios-only`, the batch breakdown (`benchmarks/breakdown.py`) and
the memory runs (`benchmarks/memory.py`). Writes FILE (reports/bench/results.json) and
prints the tables of `benchmarks/report.py`; progress goes to stderr.

A suite is a module with `comparisons(runtime, latency_ms)`, returning the comparisons to
run at that latency and the sizes it leaves out; `SUITES` lists them.
"""

import argparse
import asyncio
import gc
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from benchmarks import batch_bench, breakdown, memory, places_bench, plan, sitemap_bench
from benchmarks.paired import Comparison, ComparisonResult, run_comparison
from benchmarks.plan import LeftOut
from benchmarks.report import render
from benchmarks.results import RESULTS, BenchResults
from benchmarks.runtime import Runtime, bench_database, bench_runtime, upstream_at


class Suite(Protocol):
    def comparisons(self, runtime: Runtime, latency_ms: int) -> tuple[list[Comparison], list[LeftOut]]: ...


SUITES: tuple[Suite, ...] = (batch_bench, sitemap_bench, places_bench)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_comparisons(runtime: Runtime) -> tuple[list[ComparisonResult], list[LeftOut]]:
    results, left_out = [], []
    for latency_ms in plan.LATENCIES_MS:
        async with upstream_at(latency_ms):
            for suite in SUITES:
                comparisons, sizes_left_out = suite.comparisons(runtime, latency_ms)
                left_out += sizes_left_out
                for index, comparison in enumerate(comparisons):
                    started = time.perf_counter()
                    # The first comparison of a suite at a latency warms every variant up first.
                    result = await run_comparison(comparison, warm_up=index == 0)
                    _say(
                        f"bench: {comparison.service} {comparison.items} {comparison.unit} at {latency_ms} ms:"
                        f" {result.rounds} rounds in {time.perf_counter() - started:.0f} s"
                    )
                    results.append(result)
    for skipped in left_out:
        _say(f"bench: left out {skipped}")
    return results, left_out


async def run_all(*, ratios_only: bool) -> BenchResults:
    started, started_at, load_before = time.perf_counter(), datetime.now(UTC), os.getloadavg()[0]
    _say(f"bench: {len(os.sched_getaffinity(0))} cores, load average {load_before:.1f}")
    async with bench_database() as database_url, bench_runtime(database_url) as runtime:
        # What lives for the whole run (modules, the engine) is left out of garbage collections
        # from here on, so a collection costs about the same whenever it falls.
        gc.collect()
        gc.freeze()
        comparisons, left_out = await run_comparisons(runtime)
        breakdowns, memory_runs = [], []
        if not ratios_only:
            _say(f"bench: breakdown, {plan.BREAKDOWN_ITEMS} items at 0 ms, each batch variant once")
            async with upstream_at(0):
                breakdowns = await breakdown.measure(runtime, items=plan.BREAKDOWN_ITEMS)
            _say(f"bench: memory, {plan.MEMORY_ITEMS} items at 0 ms, each batch variant in a process of its own")
            memory_runs = await memory.measure(database_url, list(batch_bench.VARIANTS), plan.MEMORY_ITEMS)
    return BenchResults(
        started=started_at.isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 1),
        cores=len(os.sched_getaffinity(0)),
        load_average=(load_before, os.getloadavg()[0]),
        plan={
            name: getattr(plan, name)
            for name in (
                "SIZES",
                "SITEMAP_DOMAINS",
                "PLACES_PAGES",
                "LATENCIES_MS",
                "MIN_ROUNDS",
                "SECONDS_PER_COMPARISON",
                "MAX_ROUNDS",
                "MAX_WAIT_SECONDS",
                "BREAKDOWN_ITEMS",
                "MEMORY_ITEMS",
                "SYNCHRONOUS_COMMIT",
            )
        },
        comparisons=comparisons,
        left_out=left_out,
        breakdown=breakdowns,
        memory=memory_runs,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--ratios-only", action="store_true", help="the paired comparisons alone")
    args = parser.parse_args(argv)
    results = asyncio.run(run_all(ratios_only=args.ratios_only))
    results.save(args.out)
    print(render(results))
    _say(f"bench: {results.seconds:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
