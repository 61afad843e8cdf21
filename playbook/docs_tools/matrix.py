"""`make matrix`: the catalog's version-dependent failures, run on several FastAPI and
SQLAlchemy releases, written as the table the failure page shows.

For each pair of a FastAPI release (`FASTAPI`, the last one the package index serves
included) and a SQLAlchemy release (`SQLALCHEMY`), it makes a throwaway virtual
environment, installs those two from the package index beside the lock file's asyncpg,
uvicorn and httpx, and runs `docs_src/versions/request_session_lifetime.py` there, on a
database of its own on the embedded PostgreSQL (or `DATABASE_URL`'s server). The example
records, per way of getting the request session, what a background task handed the
route's committed object sees (F2 or F7), whether the request's connection is still
checked out while it runs (F10b), and whether `Depends(..., scope="function")` exists.

The result is a snapshot, committed: `docs/snapshots/version-matrix.md` (the table, with
the date and the releases) and `.json` (what each run printed). The docs build includes
the snapshot and never runs this; `make matrix` refreshes it, and writes nothing when a
run fails. Throwaway environments take a minute or more each: this is a refresh step,
not part of CI.
"""

import asyncio
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from playbook.app.settings import PROJECT_ROOT, get_settings
from playbook.docs_tools.versions import locked_versions, postgresql_version
from playbook.harness.databases import create_database, drop_database, resolve_server_url

SNAPSHOT = PROJECT_ROOT / "docs" / "snapshots" / "version-matrix"
EXAMPLE = "docs_src.versions.request_session_lifetime"
# None: the newest release the package index serves.
FASTAPI = ("0.105.*", "0.115.*", "0.118.*", "0.121.*", None)
SQLALCHEMY = ("2.0.*", "2.1.*")
# Installed at the lock file's versions in every environment: only FastAPI and SQLAlchemy vary.
FIXED = ("asyncpg", "uvicorn", "httpx")
DATABASE = "playbook_matrix"

DEFAULT = "Depends(get_session)"
FUNCTION_SCOPE = 'Depends(get_session, scope="function")'
IN_ENDPOINT = "async with in the endpoint"
READ = "the task reads the committed object"
CONNECTION = "request connection while the task runs"
DECLARING = "declaring the dependency"
CATALOG_IDS = {"MissingGreenlet": "F2", "DetachedInstanceError": "F7"}


@dataclass(frozen=True)
class Pair:
    fastapi: str | None
    sqlalchemy: str

    @property
    def requirements(self) -> list[str]:
        fastapi = f"fastapi=={self.fastapi}" if self.fastapi else "fastapi"
        return [fastapi, f"sqlalchemy[asyncio]=={self.sqlalchemy}"]

    def __str__(self) -> str:
        return f"FastAPI {self.fastapi or 'newest'}, SQLAlchemy {self.sqlalchemy}"


class RunFailed(RuntimeError):
    """An environment did not install or the example did not run: the snapshot stays as it was."""


def run_in_throwaway_environment(pair: Pair, database_url: URL) -> dict[str, Any]:
    """Install `pair` in a new virtual environment, run the example there, return its JSON."""
    locked = locked_versions()
    uv = Path(sys.executable).with_name("uv")
    with tempfile.TemporaryDirectory(prefix="matrix-") as folder:
        python = Path(folder) / "bin" / "python"
        steps = [
            [str(uv), "venv", "--quiet", "--python", sys.executable, folder],
            [
                str(uv),
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                *pair.requirements,
                *(f"{name}=={locked[name]}" for name in FIXED),
            ],
        ]
        for step in steps:
            _run(step, pair)
        env = {"DATABASE_URL": database_url.render_as_string(hide_password=False), "PATH": "/usr/bin:/bin"}
        output = _run([str(python), "-m", EXAMPLE], pair, env=env)
    printed: dict[str, Any] = json.loads(output.splitlines()[-1])
    return printed


def _run(command: list[str], pair: Pair, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RunFailed(f"{pair}: {' '.join(command[:3])} failed:\n{completed.stderr[-2000:]}")
    return completed.stdout


def _failure(cell: str) -> str:
    """`MissingGreenlet (F2)` for an observed exception, `read` for a read that worked."""
    name = cell.split(":", 1)[0]
    if name in CATALOG_IDS:
        return f"`{name}` ([{CATALOG_IDS[name]}](catalog.md#{CATALOG_IDS[name].lower()}))"
    return f"`{name}`" if ":" in cell else cell


def _connection(seen: dict[str, str]) -> str:
    return "held ([F10b](catalog.md#f10))" if seen[CONNECTION] == "held" else "returned"


def _arrangement(seen: dict[str, str]) -> str:
    if DECLARING in seen:
        return f"{_failure(seen[DECLARING])}: no `scope`"
    return f"{_failure(seen[READ])}; connection {_connection(seen)}"


def render(snapshot: dict[str, Any]) -> str:
    """The Markdown table the failure page includes, with where and when it was measured."""
    lines = [
        f"| FastAPI | Starlette | SQLAlchemy | `{DEFAULT}`: the task reads | request connection in the task "
        f"| `{FUNCTION_SCOPE}` | `{IN_ENDPOINT.removesuffix(' in the endpoint')}` in the endpoint |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in snapshot["rows"]:
        releases, observed = row["releases"], row["observed"]
        default = observed[DEFAULT]
        lines.append(
            f"| {releases['fastapi']} | {releases['starlette']} | {releases['sqlalchemy']} "
            f"| {_failure(default[READ])} | {_connection(default)} "
            f"| {_arrangement(observed[FUNCTION_SCOPE])} | {_arrangement(observed[IN_ENDPOINT])} |"
        )
    fixed = ", ".join(f"{name} {version}" for name, version in snapshot["fixed"].items())
    lines += [
        "",
        f"Run by `make matrix` on {snapshot['date']}: each row a throwaway environment with that FastAPI "
        f"and SQLAlchemy from the package index, and {fixed}, on Python {snapshot['python']} and "
        f"PostgreSQL {snapshot['postgresql']}.",
    ]
    return "\n".join(lines) + "\n"


def render_messages(snapshot: dict[str, Any]) -> str:
    """Each exception the tasks saw, as printed, once per SQLAlchemy release."""
    messages: dict[str, set[str]] = {}
    for row in snapshot["rows"]:
        for seen in row["observed"].values():
            if ":" in seen.get(READ, ""):
                messages.setdefault(row["releases"]["sqlalchemy"], set()).add(seen[READ])
    lines = []
    for release, found in sorted(messages.items()):
        lines += [f"SQLAlchemy {release}:", "", "``` text", *sorted(found), "```", ""]
    return "\n".join(lines)


async def _with_database(pairs: list[Pair]) -> list[dict[str, Any]]:
    server = resolve_server_url(get_settings())
    url = await create_database(server, DATABASE, replace=True)
    try:
        rows = []
        for pair in pairs:
            print(f"matrix: {pair} ...", file=sys.stderr, flush=True)
            rows.append(await asyncio.to_thread(run_in_throwaway_environment, pair, url))
        return rows
    finally:
        await drop_database(server, DATABASE)


def main() -> int:
    pairs = [Pair(fastapi, sqlalchemy) for fastapi in FASTAPI for sqlalchemy in SQLALCHEMY]
    try:
        rows = asyncio.run(_with_database(pairs))
    except RunFailed as exc:
        print(
            f"matrix: {exc}\nthe snapshot in {SNAPSHOT.parent.relative_to(PROJECT_ROOT)} is unchanged", file=sys.stderr
        )
        return 1
    locked = locked_versions()
    snapshot = {
        "date": datetime.now(UTC).date().isoformat(),
        "python": ".".join(map(str, sys.version_info[:3])),
        "postgresql": postgresql_version(),
        "fixed": {name: locked[name] for name in FIXED},
        "rows": rows,
    }
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.with_suffix(".json").write_text(json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n")
    SNAPSHOT.with_suffix(".md").write_text(render(snapshot))
    SNAPSHOT.with_name("version-messages.md").write_text(render_messages(snapshot))
    print(render(snapshot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
