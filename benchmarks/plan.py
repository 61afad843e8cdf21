"""What `make bench` measures and for how long, from the environment.

Sizes are per service: batch items, sitemap domains, places pages. Every size runs at every
upstream latency, except where the sequential variants would wait on the upstream for more
than `MAX_WAIT_SECONDS` each per round (1,000 batch items at 50 ms wait 50 s): those are
left out, and the report says so. Rounds, processes and the memory run are sized here too.
"""

import math
import os
from dataclasses import dataclass


def numbers(variable: str, default: str) -> list[int]:
    return [int(number) for number in os.environ.get(variable, default).split(",")]


SIZES = numbers("BENCH_SIZES", "10,100,1000")  # batch items
SITEMAP_DOMAINS = numbers("BENCH_SITEMAP_DOMAINS", "2,8,32")  # domains, each 6 upstream requests
PLACES_PAGES = numbers("BENCH_PLACES_PAGES", "1,2,4")  # pages of one search; the simulator serves at most 4
LATENCIES_MS = numbers("BENCH_LATENCIES_MS", "0,50")


@dataclass(frozen=True)
class Rounds:
    """How many rounds a comparison runs: at least `least`, then more while any of its ratios
    is less certain than `tolerance` (the standard error of its median, relative to it, judged
    from five rounds on), until it has run for `seconds` or `most` rounds."""

    least: int
    tolerance: float
    seconds: float
    most: int

    def shared_by(self, processes: int) -> "Rounds":
        """One process's share when `processes` processes run the rounds between them: pooling
        their rounds shrinks each median's standard error by the square root of their number."""
        return Rounds(
            least=math.ceil(self.least / processes),
            tolerance=self.tolerance * math.sqrt(processes),
            seconds=self.seconds / processes,
            most=math.ceil(self.most / processes),
        )


# A plan whose largest batch is smaller than 1,000 items (CI's smoke run) only checks that
# everything runs: three rounds and at most 2 s per comparison, in one process.
FULL_PLAN = max(SIZES) >= 1000
ROUNDS = Rounds(
    least=int(os.environ.get("BENCH_MIN_ROUNDS", "6" if FULL_PLAN else "3")),
    tolerance=0.02,
    seconds=float(os.environ.get("BENCH_SECONDS_PER_COMPARISON", "150" if FULL_PLAN else "2")),
    most=60,
)
# The rounds are shared by this many fresh interpreters, one after another. Each draws its
# own memory layout and string-hash seed, which move one process's timings by several
# percent either way; pooling the rounds of a few processes averages that out.
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "3" if FULL_PLAN else "1"))
MAX_WAIT_SECONDS = float(os.environ.get("BENCH_MAX_WAIT_SECONDS", "5"))

# PostgreSQL's synchronous_commit for the benchmark database. Off, a COMMIT costs its round
# trip but does not wait for the WAL to reach the disk: on a machine shared with other work
# that wait varies tenfold from one minute to the next and swamps every ratio. `on` measures
# durable commits, where each commit also pays a flush: one per item for the baselines, one
# per write for the standardized batch.
SYNCHRONOUS_COMMIT = os.environ.get("BENCH_SYNCHRONOUS_COMMIT", "off")

# The per-item breakdown: one instrumented run of each batch variant, the largest size, no upstream latency.
BREAKDOWN_ITEMS = max(SIZES)
# The memory run: one batch of ten times the largest size per variant, each in a process of its own.
MEMORY_ITEMS = int(os.environ.get("BENCH_MEMORY_ITEMS", str(10 * max(SIZES))))


def quantity(count: int, unit: str) -> str:
    """`1 page`, `2 pages`: units are named in the plural."""
    return f"{count} {unit.removesuffix('s') if count == 1 else unit}"


@dataclass(frozen=True)
class LeftOut:
    """A size not measured at a latency, because its sequential runs would wait too long."""

    service: str
    unit: str
    size: int
    latency_ms: int
    wait_seconds: float

    def __str__(self) -> str:
        return (
            f"{self.service} {quantity(self.size, self.unit)} at {self.latency_ms} ms: each sequential run would wait"
            f" {self.wait_seconds:.0f} s on the upstream (BENCH_MAX_WAIT_SECONDS={MAX_WAIT_SECONDS:g})"
        )


def sizes_within_wait(
    service: str, unit: str, sizes: list[int], *, requests_per_unit: int, latency_ms: int
) -> tuple[list[int], list[LeftOut]]:
    """The sizes whose sequential runs wait at most `MAX_WAIT_SECONDS` on the upstream, and the others."""
    kept, left_out = [], []
    for size in sizes:
        wait_seconds = size * requests_per_unit * latency_ms / 1000
        if wait_seconds <= MAX_WAIT_SECONDS:
            kept.append(size)
        else:
            left_out.append(LeftOut(service, unit, size, latency_ms, wait_seconds))
    return kept, left_out
