"""`make outputs`: what the commands the pages show print, run on every docs build.

A page that shows a command and what it prints includes
`docs/generated/outputs/<name>.txt`, written here by running the command from the project
root, exactly as the page spells it, with stderr merged into stdout in the order a
terminal shows them. The file starts with the command, `$ ...`; paths under the project
root are shown relative to it. A command that ends with another exit status than the one
listed here fails the build instead of showing an output that says something else.

Only quick commands belong here (the whole run takes a few seconds): nothing that serves
load or compares the variants. The examples under `docs_src/` share one database, so they
run one after another; the rest run beside them.
"""

import shlex
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from playbook.app.settings import PROJECT_ROOT
from playbook.helpers import child_env

OUTPUT = PROJECT_ROOT / "docs" / "generated" / "outputs"
TIMEOUT_SECONDS = 60
# Commands installed into the environment beside this interpreter, run from there.
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Output:
    """One command a page shows, and the status it must end with."""

    name: str
    command: str
    exit_status: int = 0
    # Only this many last lines are kept: a summary line, where the whole report is elsewhere.
    last_lines: int | None = None
    # Outputs of one lane run one after another (they share a database); lanes run side by side.
    lane: str = "quick"

    @property
    def path(self) -> Path:
        return OUTPUT / f"{self.name}.txt"


OUTPUTS = (
    Output("quickstart", "python -m docs_src quickstart", lane="docs_src"),
    Output("metadata-is-not-a-column", "python -m docs_src metadata_is_not_a_column", lane="docs_src"),
    Output("concurrent-flush", "python -m docs_src concurrent_flush", lane="docs_src"),
    Output(
        "audit-corpus-r4",
        "background-task-audit audit/tests/corpus/r4_gather_shares_session.py",
        exit_status=1,
    ),
    # The summary line, and make saying the command failed: findings exit 1.
    Output("audit-legacy-summary", "make audit", exit_status=2, last_lines=2),
    Output("audit-standardized", "make audit SRC=standardized"),
    Output("mutations", "python -m playbook.harness.mutation --list"),
)
OUTPUT_FILES = frozenset(output.path for output in OUTPUTS)


class NotAsDocumented(RuntimeError):
    """A command ended with another status than the page says, or did not end."""


def argv(command: str) -> list[str]:
    """The command's words, its program resolved the way this environment's shell would."""
    words = shlex.split(command)
    if words[0] == "python":
        words[0] = sys.executable
    elif (BIN / words[0]).is_file():
        words[0] = str(BIN / words[0])
    return words


def shown(text: str, root: Path = PROJECT_ROOT) -> str:
    """Output as a reader's checkout prints it: paths relative to the project root, no trailing blanks."""
    relative = text.replace(f"{root}/", "").replace(str(root), ".")
    return "\n".join(line.rstrip() for line in relative.rstrip("\n").splitlines()) + "\n"


def run(output: Output, root: Path = PROJECT_ROOT) -> str:
    """The file's text: `$ command`, then what it printed."""
    env = child_env()
    # make's "Entering directory" lines would name this machine's checkout.
    env.pop("MAKEFLAGS", None)
    env.pop("MAKELEVEL", None)
    try:
        finished = subprocess.run(
            argv(output.command),
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NotAsDocumented(f"{output.command}: still running after {TIMEOUT_SECONDS} s") from exc
    printed = shown(finished.stdout, root)
    if finished.returncode != output.exit_status:
        raise NotAsDocumented(
            f"{output.command}: exit status {finished.returncode}, the page says {output.exit_status}:\n{printed}"
        )
    lines = printed.splitlines(keepends=True)
    kept = lines[-output.last_lines :] if output.last_lines else lines
    return f"$ {output.command}\n" + "".join(kept)


def run_lane(outputs: Sequence[Output]) -> dict[Path, str]:
    return {output.path: run(output) for output in outputs}


def run_all(outputs: Sequence[Output] = OUTPUTS) -> dict[Path, str]:
    lanes: dict[str, list[Output]] = {}
    for output in outputs:
        lanes.setdefault(output.lane, []).append(output)
    written: dict[Path, str] = {}
    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        for texts in pool.map(run_lane, lanes.values()):
            written |= texts
    return written


def main() -> int:
    try:
        written = run_all()
    except NotAsDocumented as exc:
        print(f"outputs: {exc}", file=sys.stderr)
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for stale in OUTPUT.glob("*.txt"):
        if stale not in written:
            stale.unlink()
    for path, text in sorted(written.items()):
        path.write_text(text)
    print(f"outputs: wrote {len(written)} command outputs to {OUTPUT.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
