"""What a mutation is: source edits that must each match exactly once, and the tests that must notice."""

import re
from dataclasses import dataclass
from pathlib import Path

RULE_IDS = tuple(f"R{n}" for n in range(1, 11))
CATALOG_IDS = tuple(f"F{n}" for n in range(1, 12))
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class AnchorError(LookupError):
    """An edit's anchor does not occur exactly once in its file: the code moved on without the mutation."""


@dataclass(frozen=True)
class Edit:
    """Replace `old`, which must occur exactly once in `path` (relative to the project root), with `new`."""

    path: str
    old: str
    new: str

    def apply(self, root: Path) -> None:
        file = root / self.path
        if not file.is_file():
            raise AnchorError(f"{self.path}: no such file")
        text = file.read_text(encoding="utf-8")
        found = text.count(self.old)
        if found != 1:
            raise AnchorError(f"{self.path}: the anchor occurs {found} times, not once: {self.old!r}")
        file.write_text(text.replace(self.old, self.new), encoding="utf-8")


@dataclass(frozen=True)
class Mutation:
    """One way of breaking the code, named by the rules and catalog failures it re-introduces.

    `tests` are pytest arguments: node ids (`tests/test_batch.py::test_x[standardized]`), and
    optionally `-m`/`-k` selections; at least one of the tests they select must fail.
    """

    name: str
    ids: tuple[str, ...]
    what: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"mutation name {self.name!r} is not lower-case words joined by '-'")
        unknown = [id_ for id_ in self.ids if id_ not in RULE_IDS + CATALOG_IDS]
        if not self.ids or unknown:
            raise ValueError(f"{self.name}: ids must name rules R1..R10 or failures F1..F11, got {self.ids}")
        if not self.edits or not self.tests:
            raise ValueError(f"{self.name}: a mutation needs at least one edit and one test")

    def apply(self, root: Path) -> None:
        """Apply every edit to the tree at `root`; raise `AnchorError` if one does not match exactly once."""
        for edit in self.edits:
            edit.apply(root)
