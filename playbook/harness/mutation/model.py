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

    def applied_to(self, text: str) -> str:
        found = text.count(self.old)
        if found != 1:
            raise AnchorError(f"{self.path}: the anchor occurs {found} times, not once: {self.old!r}")
        return text.replace(self.old, self.new)


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

    def edited_files(self, root: Path) -> dict[str, str]:
        """The mutated text of each file the edits touch, edits applied in order; the tree is left as it is.

        Raises `AnchorError` if a file is missing or an anchor does not occur exactly once.
        """
        texts: dict[str, str] = {}
        for edit in self.edits:
            if edit.path not in texts:
                file = root / edit.path
                if not file.is_file():
                    raise AnchorError(f"{edit.path}: no such file")
                texts[edit.path] = file.read_text(encoding="utf-8")
            texts[edit.path] = edit.applied_to(texts[edit.path])
        return texts

    def apply(self, root: Path) -> None:
        """Write the mutation into the tree at `root` (a copy: never the working tree)."""
        for path, text in self.edited_files(root).items():
            (root / path).write_text(text, encoding="utf-8")


def inserted_after(path: str, anchor: str, added: str) -> Edit:
    """An edit that adds `added` right after `anchor`."""
    return Edit(path, anchor, anchor + added)


def removed(path: str, old: str) -> Edit:
    """An edit that deletes `old`."""
    return Edit(path, old, "")
