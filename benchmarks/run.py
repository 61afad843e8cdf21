"""`make bench`: every service's paired comparisons, the per-item breakdown and the memory runs.

`python -m benchmarks.run [--out FILE] [--ratios-only]`. One database: for each upstream
latency, each suite's comparisons in turn (`benchmarks/paired.py`), smallest first, in
`PROCESSES` fresh interpreters one after another that share the rounds; then, unless
`--ratios-only`, the batch breakdown (`benchmarks/breakdown.py`) and the memory runs
(`benchmarks/memory.py`). Writes FILE (reports/bench/results.json) and
prints the tables of `benchmarks/report.py`; progress goes to stderr.

A suite is a module with `comparisons(runtime, latency_ms)`, returning the comparisons to
run at that latency and the sizes it leaves out; `SUITES` lists them.
"""

import argparse
import asyncio
import gc
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import URL, make_url

from benchmarks import batch_bench, breakdown, memory, places_bench, plan, sitemap_bench
from benchmarks.paired import Comparison, ComparisonResult, merged, run_comparison
from benchmarks.plan import LeftOut, Rounds, quantity
from benchmarks.report import render
from benchmarks.results import RESULTS, BenchResults
from benchmarks.runtime import Runtime, bench_database, bench_runtime, upstream_at


class Suite(Protocol):
    def comparisons(self, runtime: Runtime, latency_ms: int) -> tuple[list[Comparison], list[LeftOut]]: ...


SUITES: tuple[Suite, ...] = (batch_bench, sitemap_bench, places_bench)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_comparisons(runtime: Runtime, rounds: Rounds) -> tuple[list[ComparisonResult], list[LeftOut]]:
    """Every suite's comparisons at every latency, in this process."""
    # What lives for the whole run (modules, the engine) is left out of garbage collections
    # from here on, so a collection costs about the same whenever it falls.
    gc.collect()
    gc.freeze()
    results, left_out = [], []
    for latency_ms in plan.LATENCIES_MS:
        async with upstream_at(latency_ms):
            for suite in SUITES:
                comparisons, sizes_left_out = suite.comparisons(runtime, latency_ms)
                left_out += sizes_left_out
                for index, comparison in enumerate(comparisons):
                    started = time.perf_counter()
                    # The first comparison of a suite at a latency warms every variant up first.
                    result = await run_comparison(comparison, rounds=rounds, warm_up=index == 0)
                    _say(
                        f"bench: {comparison.service} {quantity(comparison.items, comparison.unit)} at {latency_ms} ms:"
                        f" {result.rounds} rounds in {time.perf_counter() - started:.0f} s"
                    )
                    results.append(result)
    return results, left_out


async def _comparisons_here(database_url: URL, rounds: Rounds) -> tuple[list[ComparisonResult], list[LeftOut]]:
    async with bench_runtime(database_url) as runtime:
        return await run_comparisons(runtime, rounds)


def _comparisons_in_child(database_url: str, rounds: Rounds) -> tuple[list[ComparisonResult], list[LeftOut]]:
    return asyncio.run(_comparisons_here(make_url(database_url), rounds))


async def paired_comparisons(database_url: URL) -> tuple[list[ComparisonResult], list[LeftOut]]:
    """The comparisons, their rounds shared by `PROCESSES` fresh interpreters one after another."""
    if plan.PROCESSES == 1:
        return await _comparisons_here(database_url, plan.ROUNDS)
    url = database_url.render_as_string(hide_password=False)
    rounds = plan.ROUNDS.shared_by(plan.PROCESSES)
    loop = asyncio.get_running_loop()
    shares = []
    # "spawn": a new interpreter each time, with its own memory layout and hash seed.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as processes:
        for number in range(1, plan.PROCESSES + 1):
            _say(f"bench: process {number} of {plan.PROCESSES}")
            shares.append(await loop.run_in_executor(processes, _comparisons_in_child, url, rounds))
    return merged([results for results, _ in shares]), shares[0][1]


async def run_all(*, ratios_only: bool) -> BenchResults:
    started, started_at, load_before = time.perf_counter(), datetime.now(UTC), os.getloadavg()[0]
    _say(f"bench: {len(os.sched_getaffinity(0))} cores, load average {load_before:.1f}")
    async with bench_database() as database_url:
        comparisons, left_out = await paired_comparisons(database_url)
        for skipped in left_out:
            _say(f"bench: left out {skipped}")
        breakdowns, memory_runs = [], []
        if not ratios_only:
            _say(f"bench: breakdown, {plan.BREAKDOWN_ITEMS} items at 0 ms, each batch variant once")
            async with bench_runtime(database_url) as runtime, upstream_at(0):
                breakdowns = await breakdown.measure(runtime, items=plan.BREAKDOWN_ITEMS)
            _say(f"bench: memory, {plan.MEMORY_ITEMS} items at 0 ms, each batch variant in a process of its own")
            memory_runs = await memory.measure(database_url, list(batch_bench.VARIANTS), plan.MEMORY_ITEMS)
    return BenchResults(
        started=started_at.isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 1),
        cores=len(os.sched_getaffinity(0)),
        load_average=(load_before, os.getloadavg()[0]),
        plan={
            "sizes": plan.SIZES,
            "sitemap_domains": plan.SITEMAP_DOMAINS,
            "places_pages": plan.PLACES_PAGES,
            "latencies_ms": plan.LATENCIES_MS,
            "rounds": asdict(plan.ROUNDS),
            "processes": plan.PROCESSES,
            "max_wait_seconds": plan.MAX_WAIT_SECONDS,
            "breakdown_items": plan.BREAKDOWN_ITEMS,
            "memory_items": plan.MEMORY_ITEMS,
            "synchronous_commit": plan.SYNCHRONOUS_COMMIT,
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
