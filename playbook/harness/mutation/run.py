"""Running the mutations: each in a fresh copy of the tree, its tests in a pytest of their own.

The working tree is never edited: it is copied once when the run starts (git's view of
it: tracked and new files, ignored ones left out), and every mutation gets a copy of that
snapshot, so edits made meanwhile do not leak into the run. Every copy runs against one
PostgreSQL server, the embedded one in this tree's `.pgdata` (or `DATABASE_URL`), started
here once, so copies do not each start a cluster; each pytest creates and drops a
database of its own on it. Before any mutation, the selected tests run once on an
unmutated copy: a mutation only counts as killed by tests that pass without it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from playbook.app.settings import Settings
from playbook.harness.databases import resolve_server_url
from playbook.harness.mutation.model import AnchorError, Mutation

# Generous: one selection runs a few tests of a few seconds each; pytest-timeout stops a hung test first.
RUN_TIMEOUT = 600.0
# How much of a failure's message the table shows.
MESSAGE_WIDTH = 100


class Outcome(StrEnum):
    KILLED = "killed"  # at least one selected test failed
    SURVIVED = "survived"  # every selected test passed
    ERROR = "error"  # the mutation could not be applied, or pytest could not run its tests


@dataclass(frozen=True)
class PytestRun:
    """What one pytest run of a selection reported."""

    exit_code: int
    tests_run: int
    failed: tuple[str, ...]  # "test id: failure message", in the order they failed
    output: str


@dataclass(frozen=True)
class Result:
    mutation: Mutation
    outcome: Outcome
    tests_run: int
    seconds: float
    detail: str  # the failing test that killed it, or what went wrong


def project_files(root: Path) -> list[Path]:
    """The files of the tree at `root` as git sees them: tracked or new, ignored ones left out."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    paths = (Path(name) for name in listed.stdout.decode().split("\0") if name)
    return [path for path in paths if (root / path).is_file()]


def copy_tree(files: Iterable[Path], source: Path, destination: Path) -> None:
    for path in files:
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / path, target)


def run_pytest(
    tree: Path, selection: tuple[str, ...], env: dict[str, str], *, stop_at_first_failure: bool
) -> PytestRun:
    """Run pytest on `selection` inside `tree` (so its modules, not the installed ones, are imported)."""
    report = tree / ".mutation-report.xml"
    options = ["-q", "-p", "no:cacheprovider", f"--junitxml={report}", *(["-x"] if stop_at_first_failure else [])]
    command = [sys.executable, "-m", "pytest", *options, *selection]
    try:
        completed = subprocess.run(
            command, cwd=tree, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return PytestRun(exit_code=-1, tests_run=0, failed=(), output=f"no result within {exc.timeout:g} s")
    tests_run, failed = _read_junit(report) if report.exists() else (0, ())
    return PytestRun(completed.returncode, tests_run, failed, completed.stdout + completed.stderr)


def _read_junit(report: Path) -> tuple[int, tuple[str, ...]]:
    """How many tests ran, and each failure; a test that also errors in teardown is listed twice, counted once."""
    ran: set[tuple[str | None, str | None]] = set()
    failed = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        ran.add((case.get("classname"), case.get("name")))
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            message = " ".join(problem.get("message", "").split())
            failed.append(f"{case.get('name', '')}: {message[:MESSAGE_WIDTH]}")
    return len(ran), tuple(failed)


def judge(mutation: Mutation, run: PytestRun, seconds: float) -> Result:
    """pytest's exit status says it: 1 is a test failed (killed), 0 all passed (survived), else it could not run."""
    if run.exit_code == 1 and run.failed:
        return Result(mutation, Outcome.KILLED, run.tests_run, seconds, run.failed[0])
    if run.exit_code == 0:
        return Result(mutation, Outcome.SURVIVED, run.tests_run, seconds, "every selected test passed")
    return Result(mutation, Outcome.ERROR, run.tests_run, seconds, _last_lines(run.output))


def _last_lines(output: str, count: int = 3) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "pytest printed nothing"


@dataclass(frozen=True)
class Workspace:
    """The snapshot the copies are made from, its files, and the environment every pytest runs in."""

    root: Path
    files: tuple[Path, ...]
    env: dict[str, str]

    @contextmanager
    def copy(self, name: str) -> Iterator[Path]:
        """A fresh copy of the snapshot, removed when the block ends."""
        with tempfile.TemporaryDirectory(prefix=f"mutation-{name}-") as scratch:
            copy_tree(self.files, self.root, Path(scratch))
            yield Path(scratch)

    def run_mutation(self, mutation: Mutation) -> Result:
        started = time.perf_counter()
        with self.copy(mutation.name) as tree:
            try:
                mutation.apply(tree)
            except AnchorError as exc:
                return Result(mutation, Outcome.ERROR, 0, time.perf_counter() - started, f"anchor: {exc}")
            run = run_pytest(tree, mutation.tests, self.env, stop_at_first_failure=True)
        return judge(mutation, run, time.perf_counter() - started)

    def run_unmutated(self, selection: tuple[str, ...]) -> PytestRun:
        with self.copy("baseline") as tree:
            return run_pytest(tree, selection, self.env, stop_at_first_failure=False)


@contextmanager
def workspace(root: Path, settings: Settings) -> Iterator[Workspace]:
    """Snapshot the tree at `root`; point every pytest at one server, started here if it is the embedded one."""
    server_url = resolve_server_url(settings)
    env = {
        **os.environ,
        "DATABASE_URL": server_url.render_as_string(hide_password=False),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    files = project_files(root)
    with tempfile.TemporaryDirectory(prefix="mutation-snapshot-") as snapshot:
        copy_tree(files, root, Path(snapshot))
        yield Workspace(root=Path(snapshot), files=tuple(files), env=env)


def baseline_selections(mutations: list[Mutation]) -> list[tuple[str, ...]]:
    """The mutations' tests as few pytest runs: node ids and paths together, each `-m`/`-k` selection alone."""
    plain: list[str] = []
    filtered: list[tuple[str, ...]] = []
    for mutation in mutations:
        if any(argument.startswith("-") for argument in mutation.tests):
            filtered.append(mutation.tests)
        else:
            plain.extend(test for test in mutation.tests if test not in plain)
    selections = [tuple(plain)] if plain else []
    return selections + list(dict.fromkeys(filtered))


def run_all(
    space: Workspace, mutations: list[Mutation], *, jobs: int, report: Callable[[Result], None]
) -> list[Result]:
    """Run every mutation, `jobs` at a time; `report` is called with each result as it comes."""

    def run_one(mutation: Mutation) -> Result:
        result = space.run_mutation(mutation)
        report(result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_one, mutations))
