"""Do two bench runs agree? Their ratio tables side by side: `python -m benchmarks.agreement FIRST SECOND`.

`make bench-twice` runs the paired comparisons twice in a row and calls this on the two
results files. For every comparison both runs made, each variant's median ratio to the
baseline and to the floor in each run, and how far the second is from the first
(second / first - 1). Exits 1 when any ratio moved by more than `TOLERANCE`.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.paired import Spread
from benchmarks.report import Row, rows
from benchmarks.results import BenchResults

TOLERANCE = 0.10


@dataclass(frozen=True)
class Agreement:
    first: Row
    second: Row

    @staticmethod
    def change(first: Spread | None, second: Spread | None) -> float | None:
        return None if first is None or second is None else second.median / first.median - 1

    @property
    def changes(self) -> list[float]:
        changes = (
            self.change(self.first.vs_baseline, self.second.vs_baseline),
            self.change(self.first.vs_floor, self.second.vs_floor),
        )
        return [change for change in changes if change is not None]


def agreements(first: BenchResults, second: BenchResults) -> list[Agreement]:
    """Rows of the first run paired with the second's for the same comparison and variant."""
    second_rows = {_key(row): row for row in rows(second.comparisons)}
    return [Agreement(row, second_rows[_key(row)]) for row in rows(first.comparisons) if _key(row) in second_rows]


def _key(row: Row) -> tuple[str, int, int, str]:
    return row.service, row.items, row.latency_ms, row.variant


def _cells(first: Spread | None, second: Spread | None) -> str:
    change = Agreement.change(first, second)
    if first is None or second is None or change is None:
        return f"{'-':>8}{'-':>8}{'-':>9}"
    flag = " " if abs(change) <= TOLERANCE else "!"
    return f"{first.median:>7.2f}x{second.median:>7.2f}x{change:>+8.1%}{flag}"


def render(first: BenchResults, second: BenchResults) -> str:
    paired = agreements(first, second)
    lines = [
        f"run 1: {first.started}, {first.seconds / 60:.0f} min, load average {first.load_average[0]:.1f}"
        f"; run 2: {second.started}, {second.seconds / 60:.0f} min, load average {second.load_average[0]:.1f}",
        f"{'':<40}{'ratio to the baseline':<26}{'ratio to the floor':<26}",
        f"{'service':<8}{'size':>6}{'ms':>5}  {'variant':<19}{'run 1':>8}{'run 2':>8}{'change':>9} "
        f"{'run 1':>8}{'run 2':>8}{'change':>9}",
    ]
    for pair in paired:
        row = pair.first
        lines.append(
            f"{row.service:<8}{row.items:>6}{row.latency_ms:>5}  {row.variant[:19]:<19}"
            f"{_cells(row.vs_baseline, pair.second.vs_baseline)}{_cells(row.vs_floor, pair.second.vs_floor)}"
        )
    changes = [(abs(change), pair) for pair in paired for change in pair.changes]
    if not changes:
        lines.append("the two runs share no ratio: nothing to compare")
        return "\n".join(lines)
    beyond = sum(1 for change, _ in changes if change > TOLERANCE)
    largest, where = max(changes, key=lambda entry: entry[0])
    lines.append(
        f"{len(changes)} ratios, {len(changes) - beyond} within {TOLERANCE:.0%} ('!' marks the others);"
        f" the largest change {largest:.1%}, {where.first.service} {where.first.items} {where.first.unit}"
        f" at {where.first.latency_ms} ms, {where.first.variant}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    first, second = (BenchResults.load(Path(path)) for path in argv)
    print(render(first, second))
    changes = [abs(change) for pair in agreements(first, second) for change in pair.changes]
    # No shared ratio is no agreement shown: as much a failure as a ratio that moved.
    return 1 if not changes or max(changes) > TOLERANCE else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
