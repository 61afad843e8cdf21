"""Peak memory of a process running one large batch, per variant.

`make bench` runs each batch variant in a process of its own, so no variant inherits
another's heap. The process binds the engine and the upstream (0 ms) as the benchmarks
do, warms up on a 10-item job, builds the list of `MEMORY_ITEMS` items (the input, as a
request's body would be), resets the kernel's peak-RSS counter, then runs one job of those
items while a thread samples its RSS every 20 ms. It reports the RSS before the job, the
peak during it (the kernel's VmHWM, not a sample), and the peaks of the job's first and
second halves by time: memory that is bounded stops growing early; memory that grows with
every item is higher in the second half. The job is read back after the readings.
Does not guarantee: that RSS is live objects alone (`benchmarks/rss.py`).
"""

import asyncio
import gc
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url

from benchmarks.batch_bench import check_stored, job_runs
from benchmarks.paired import JobRun, create_job
from benchmarks.rss import peak_rss_bytes, reset_peak_rss, rss_bytes
from benchmarks.runtime import bench_runtime, upstream_at
from playbook.app.models import JobKind

WARM_UP_ITEMS = 10
SAMPLE_SECONDS = 0.02
MAX_SAMPLES_KEPT = 200


@dataclass
class MemoryRun:
    variant: str
    items: int
    seconds: float
    rss_before: int
    rss_peak: int
    first_half_peak: int
    second_half_peak: int
    samples: list[tuple[float, int]]  # (seconds since the job started, RSS), thinned to MAX_SAMPLES_KEPT

    @property
    def growth(self) -> int:
        return self.rss_peak - self.rss_before

    @property
    def second_half_growth(self) -> int:
        return self.second_half_peak - self.first_half_peak


class _RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()
        self._since = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.samples.append((time.perf_counter() - self._since, rss_bytes()))

    def finish(self) -> None:
        self._done.set()
        self.join()


async def run_here(database_url: URL, variant: str, items: int) -> MemoryRun:
    """One job of `items` items by `variant` in this process, its memory watched."""
    async with bench_runtime(database_url) as runtime, upstream_at(0):
        await _checked_job(job_runs(runtime, WARM_UP_ITEMS)[variant], WARM_UP_ITEMS)
        # The list of items exists before the job starts, as a request's body would.
        run = job_runs(runtime, items)[variant]
        job_id = await create_job(JobKind.batch, items)
        gc.collect()
        rss_before = rss_bytes()
        reset_peak_rss()
        sampler = _RssSampler()
        sampler.start()
        started = time.perf_counter()
        await run(job_id)
        seconds = time.perf_counter() - started
        sampler.finish()
        rss_peak = peak_rss_bytes()
        # Read back after the readings: loading the job's results is the check's memory, not the variant's.
        await check_stored(job_id, items=items)
    samples = sampler.samples
    halfway = seconds / 2
    return MemoryRun(
        variant=variant,
        items=items,
        seconds=seconds,
        rss_before=rss_before,
        rss_peak=rss_peak,
        first_half_peak=max((rss for at, rss in samples if at <= halfway), default=rss_before),
        second_half_peak=max((rss for at, rss in samples if at > halfway), default=rss_peak),
        samples=samples[:: max(1, len(samples) // MAX_SAMPLES_KEPT)],
    )


async def measure(database_url: URL, variants: list[str], items: int) -> list[MemoryRun]:
    """`run_here` for each variant, each in a process of its own, one after another."""
    # Each process is forked from a server that imported this module once: a clean heap
    # for every variant without paying for the imports six times.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    url = database_url.render_as_string(hide_password=False)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as processes:
        return [await loop.run_in_executor(processes, _run_in_child, url, variant, items) for variant in variants]


def _run_in_child(database_url: str, variant: str, items: int) -> MemoryRun:
    return asyncio.run(run_here(make_url(database_url), variant, items))


async def _checked_job(run: JobRun, items: int) -> None:
    job_id = await create_job(JobKind.batch, items)
    await run(job_id)
    await check_stored(job_id, items=items)
