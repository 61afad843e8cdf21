"""The audit's settings: `[tool.background-task-audit]` in the scanned project's pyproject.toml,
then the command line on top.

```toml
[tool.background-task-audit]
select = ["R1", "R2"]                      # rules or check names to report (default: all)
ignore = ["R6", "engine-not-disposed"]     # rules or check names never reported
exclude = ["migrations", "scripts/*.py"]   # paths (globs) relative to this file's folder
session-types = ["app.db.TenantSession"]   # more classes whose instances are sessions
session-factories = ["app.db.tenant_session"]  # more callables that return (or yield) one
include-tests = false                      # tests are skipped unless this is true
```

The file used is the nearest pyproject.toml with that table, looked for from the scanned
paths' common folder upward. A missing table means the defaults; a malformed one is an
error the command line reports (exit 2).
"""

import os
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

TABLE = "background-task-audit"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Config:
    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    exclude: tuple[str, ...] = ()
    session_types: frozenset[str] = frozenset()
    session_factories: frozenset[str] = frozenset()
    include_tests: bool = False
    root: Path | None = None
    source: Path | None = field(default=None, compare=False)

    def reports(self, *, rule_id: str, check_name: str) -> bool:
        """Whether a finding of this rule and check is kept by `select` and `ignore`."""
        names = {rule_id, check_name}
        if self.select and not names & self.select:
            return False
        return not names & self.ignore

    def merged(
        self,
        *,
        select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        exclude: Iterable[str] = (),
        include_tests: bool = False,
    ) -> "Config":
        """The command line's options on top: `select` replaces, the others add."""
        chosen = frozenset(select)
        return replace(
            self,
            select=chosen or self.select,
            ignore=self.ignore | frozenset(ignore),
            exclude=(*self.exclude, *exclude),
            include_tests=self.include_tests or include_tests,
        )


def find_config(paths: Sequence[Path]) -> Config:
    """The settings of the nearest pyproject.toml above the scanned paths that has the table."""
    start = _common_folder(paths)
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _table(candidate)
            if table is not None:
                return _parse(table, source=candidate)
    return Config()


def load_config(pyproject: Path) -> Config:
    """The settings in one named file (an empty table when it has none)."""
    return _parse(_table(pyproject) or {}, source=pyproject)


def _common_folder(paths: Sequence[Path]) -> Path:
    resolved = [path.resolve() for path in paths] or [Path.cwd().resolve()]
    folders = [path if path.is_dir() else path.parent for path in resolved]
    return Path(os.path.commonpath(folders))


def _table(pyproject: Path) -> dict[str, Any] | None:
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: {exc}") from exc
    table = document.get("tool", {}).get(TABLE)
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.{TABLE}] must be a table")
    return table


def _parse(table: dict[str, Any], *, source: Path) -> Config:
    known = {"select", "ignore", "exclude", "session-types", "session-factories", "include-tests"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown keys in [tool.{TABLE}]: {', '.join(unknown)}")
    include_tests = table.get("include-tests", False)
    if not isinstance(include_tests, bool):
        raise ConfigError(f"{source}: include-tests must be true or false")
    return Config(
        select=frozenset(_strings(table, "select", source=source)),
        ignore=frozenset(_strings(table, "ignore", source=source)),
        exclude=tuple(_strings(table, "exclude", source=source)),
        session_types=frozenset(_strings(table, "session-types", source=source)),
        session_factories=frozenset(_strings(table, "session-factories", source=source)),
        include_tests=include_tests,
        root=source.parent.resolve(),
        source=source,
    )


def _strings(table: dict[str, Any], key: str, *, source: Path) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: {key} must be a list of strings")
    return value
