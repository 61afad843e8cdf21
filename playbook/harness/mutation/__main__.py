"""`python -m playbook.harness.mutation` (`make mutate`): run the mutation check, print the table.

Exits 0 only when every mutation was killed; a survivor or a mutation that could not be
applied or run exits 1.
"""

import argparse
import sys
import time
from pathlib import Path

from playbook.app.settings import PROJECT_ROOT, Settings
from playbook.harness.mutation.catalog import MUTATIONS
from playbook.harness.mutation.model import Mutation
from playbook.harness.mutation.run import Outcome, Result, Workspace, baseline_selections, run_all, workspace

COLUMNS = ("mutation", "ids", "tests", "result", "seconds", "killed by / why not")


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    mutations = _select(arguments.only)
    if arguments.list:
        for mutation in mutations:
            print(f"{mutation.name:40} {','.join(mutation.ids):12} {mutation.what}")
        return 0
    started = time.perf_counter()
    with workspace(Path(arguments.root), Settings()) as space:
        if not arguments.no_baseline and not _baseline_passes(space, mutations):
            return 1
        results = run_all(space, mutations, jobs=arguments.jobs, report=_progress)
    print(table(results))
    print(summary(results, time.perf_counter() - started))
    return 0 if all(result.outcome is Outcome.KILLED for result in results) else 1


def _baseline_passes(space: Workspace, mutations: list[Mutation]) -> bool:
    """A mutation is only killed by tests that pass without it: run them all on the unmutated tree first."""
    for selection in baseline_selections(mutations):
        print(f"baseline: {' '.join(selection)}", file=sys.stderr, flush=True)
        run = space.run_unmutated(selection)
        if run.exit_code != 0:
            print(run.output[-4000:], file=sys.stderr)
            print("baseline failed: the selected tests must pass on the unmutated tree first", file=sys.stderr)
            return False
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playbook.harness.mutation", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated mutation names (default: all)")
    # Two at once: the runs mostly wait (on latencies, locks, the database), and stay reliable on two cores.
    parser.add_argument("--jobs", type=int, default=2, help="mutations run at once (default: 2)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the tests on the unmutated tree")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--root", default=str(PROJECT_ROOT), help="the tree to copy (default: this project)")
    return parser


def _select(only: str) -> list[Mutation]:
    if not only:
        return list(MUTATIONS)
    by_name = {mutation.name: mutation for mutation in MUTATIONS}
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise SystemExit(f"unknown mutations: {', '.join(unknown)} (see --list)")
    return [by_name[name] for name in names]


def _progress(result: Result) -> None:
    print(f"{result.outcome:8} {result.mutation.name} ({result.seconds:.1f} s)", file=sys.stderr, flush=True)


def table(results: list[Result]) -> str:
    rows = [
        (
            result.mutation.name,
            ",".join(result.mutation.ids),
            str(result.tests_run),
            str(result.outcome),
            f"{result.seconds:.1f}",
            result.detail,
        )
        for result in results
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    lines = []
    rule = (*("-" * width for width in widths), "-" * len(COLUMNS[-1]))
    for row in [COLUMNS, rule, *rows]:
        cells = [
            cell.rjust(width) if i in (2, 4) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append(" | ".join([*cells, row[-1]]))
    return "\n".join(lines)


def summary(results: list[Result], seconds: float) -> str:
    killed = sum(result.outcome is Outcome.KILLED for result in results)
    lines = [f"killed {killed}/{len(results)} in {seconds:.0f} s"]
    for outcome in (Outcome.SURVIVED, Outcome.ERROR):
        names = [result.mutation.name for result in results if result.outcome is outcome]
        if names:
            lines.append(f"{outcome}: {', '.join(names)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
