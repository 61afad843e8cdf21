"""Paired rounds: the variants of one job interleaved in one process, on the same data and database.

A comparison is one job (a service, a size, an upstream latency) written several ways.
Each round runs every variant once, each on a fresh job with the same items, forward in
even rounds and backward in odd ones (ABC, CBA, ...), so whatever the machine does
meanwhile (other processes, a checkpoint) falls on every variant of the round alike.
Before each run the app's tables are emptied, so every run starts from the same database:
no variant pays for the rows, or the dead row versions, that the runs before it left. A
ratio between two variants is taken within each round, then summarised over the rounds
as the median and the interquartile range (`Spread`). A ratio of two runs made minutes
apart would carry the machine's drift between them instead.

How many rounds is `Rounds` (`benchmarks/plan.py`): more where the ratios vary from round
to round, fewer where they do not; `merged` pools the rounds that several processes ran
of the same comparisons. The first comparison of a service at each latency starts with a
round that is not recorded, so connections, prepared statements and caches are warm for
every variant. After each run the job is read back (`Comparison.check`): a variant that
stopped writing cannot post a good time.

Shows: per-round times and peak connections of each variant. Does not guarantee: that
absolute times hold from one run to the next on a shared machine; the ratios within a
round are what the pairing protects.
"""

import math
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from sqlalchemy import text

from benchmarks.plan import Rounds
from playbook.app.database import get_pool_stats
from playbook.app.models import Base, Job, JobKind
from standardized.db import get_background_session

JobRun = Callable[[uuid.UUID], Awaitable[None]]
# Fewer rounds than this say too little about their own spread to stop on it; only the time
# allowed stops a comparison sooner.
ROUNDS_TO_JUDGE = 5


@dataclass(frozen=True)
class Comparison:
    """One job written several ways; `variants` in the order a forward round runs them."""

    service: str
    unit: str  # what one item of the job is: "items", "domains", "pages"
    items: int
    latency_ms: int
    kind: JobKind
    variants: Mapping[str, JobRun]
    check: Callable[[uuid.UUID], Awaitable[None]]  # raises unless the job was stored whole
    baseline: str  # ratios are to this variant...
    floor: str | None = None  # ...and to this one
    total_items: int | None = None  # the job row's total_items when it is not `items`
    # Variants that hold one connection of their own instead of the pool's.
    unpooled: frozenset[str] = frozenset()


@dataclass
class VariantTimes:
    seconds: list[float]  # one per recorded round, in round order
    connections: int  # the most held at once in any round


@dataclass(frozen=True)
class Spread:
    """The median of per-round values and their interquartile range."""

    median: float
    q1: float
    q3: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        if len(values) == 1:  # one round: no spread to speak of
            [value] = values
            return cls(median=value, q1=value, q3=value, count=1)
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(median=median, q1=q1, q3=q3, count=len(values))

    @property
    def relative_error(self) -> float:
        """The median's standard error over the median, from the interquartile range.

        For roughly normal values the median's standard error is 1.2533 sigma / sqrt(n), and
        sigma is the interquartile range / 1.349; one round says nothing, so it is infinite.
        """
        if self.count < 2:
            return math.inf
        return 0.929 * (self.q3 - self.q1) / math.sqrt(self.count) / self.median


@dataclass
class ComparisonResult:
    service: str
    unit: str
    items: int
    latency_ms: int
    baseline: str
    floor: str | None
    variants: dict[str, VariantTimes]

    @property
    def rounds(self) -> int:
        return len(next(iter(self.variants.values())).seconds)

    def ratio(self, variant: str, reference: str) -> Spread:
        """`variant`'s time over `reference`'s, round by round."""
        ours, theirs = self.variants[variant].seconds, self.variants[reference].seconds
        return Spread.of([mine / other for mine, other in zip(ours, theirs, strict=True)])

    def seconds(self, variant: str) -> Spread:
        return Spread.of(self.variants[variant].seconds)

    def ratios(self) -> list[Spread]:
        """Every variant's ratio to the baseline and to the floor."""
        references = [reference for reference in (self.baseline, self.floor) if reference is not None]
        return [
            self.ratio(variant, reference)
            for reference in references
            for variant in self.variants
            if variant != reference
        ]


async def empty_tables() -> None:
    """Every table of the app emptied: the next run starts from the same database as the last."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with get_background_session() as session:
        await session.execute(text(f"TRUNCATE {tables}"))


async def create_job(kind: JobKind, total_items: int) -> uuid.UUID:
    async with get_background_session() as session:
        job = Job(kind=kind, total_items=total_items)
        session.add(job)
    return job.id


async def run_comparison(comparison: Comparison, *, rounds: Rounds, warm_up: bool) -> ComparisonResult:
    names = list(comparison.variants)
    result = ComparisonResult(
        service=comparison.service,
        unit=comparison.unit,
        items=comparison.items,
        latency_ms=comparison.latency_ms,
        baseline=comparison.baseline,
        floor=comparison.floor,
        variants={name: VariantTimes(seconds=[], connections=0) for name in names},
    )
    if warm_up:
        for name in names:
            await _run_once(comparison, name)
    started = time.perf_counter()
    while result.rounds < rounds.least or (
        time.perf_counter() - started < rounds.seconds
        and result.rounds < rounds.most
        and (result.rounds < ROUNDS_TO_JUDGE or _uncertainty(result) > rounds.tolerance)
    ):
        for name in names if result.rounds % 2 == 0 else reversed(names):
            seconds, connections = await _run_once(comparison, name)
            times = result.variants[name]
            times.seconds.append(seconds)
            times.connections = max(times.connections, connections)
    return result


def _uncertainty(result: ComparisonResult) -> float:
    return max(spread.relative_error for spread in result.ratios())


def merged(shares: list[list[ComparisonResult]]) -> list[ComparisonResult]:
    """The same comparisons run by several processes, their rounds pooled."""
    return [_pooled(list(results)) for results in zip(*shares, strict=True)]


def _pooled(results: list[ComparisonResult]) -> ComparisonResult:
    variants = {
        name: VariantTimes(
            seconds=[seconds for result in results for seconds in result.variants[name].seconds],
            connections=max(result.variants[name].connections for result in results),
        )
        for name in results[0].variants
    }
    return replace(results[0], variants=variants)


async def _run_once(comparison: Comparison, name: str) -> tuple[float, int]:
    """Seconds `name` takes on a fresh job, and the connections it held at most."""
    total = comparison.items if comparison.total_items is None else comparison.total_items
    await empty_tables()
    job_id = await create_job(comparison.kind, total)
    get_pool_stats().reset_peak()
    started = time.perf_counter()
    await comparison.variants[name](job_id)
    seconds = time.perf_counter() - started
    connections = 1 if name in comparison.unpooled else get_pool_stats().peak
    await comparison.check(job_id)
    return seconds, connections
