"""Finding the Python files to audit and parsing them, without importing or running them."""

import ast
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})


@dataclass(frozen=True, eq=False)
class SourceModule:
    """One parsed file, named the way Python would import it."""

    path: Path
    display_path: str
    name: str
    tree: ast.Module
    import_root: Path
    text: str

    def mentions(self, words) -> bool:
        """Whether any of `words` appears in the source: a cheap test before walking the tree."""
        return any(word in self.text for word in words)

    @property
    def package(self) -> str:
        """The package that relative imports in this module start from."""
        if self.path.name == "__init__.py":
            return self.name
        return self.name.rpartition(".")[0]


@dataclass(frozen=True)
class UnreadableFile:
    display_path: str
    reason: str


def python_files(paths: Iterable[Path]) -> list[Path]:
    """Every .py file under `paths`, walked recursively, without hidden or virtualenv folders."""
    found: dict[Path, None] = {}
    for path in paths:
        for file in _walk(path):
            found.setdefault(file.resolve(), None)
    return list(found)


def _walk(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for directory, subdirectories, files in os.walk(path):
        subdirectories[:] = sorted(name for name in subdirectories if not _skipped(name))
        yield from (Path(directory) / name for name in sorted(files) if name.endswith(".py"))


def _skipped(directory_name: str) -> bool:
    return directory_name.startswith(".") or directory_name in SKIPPED_DIRECTORIES


def module_name(path: Path) -> tuple[str, Path]:
    """The dotted import name of `path` and the folder it is importable from."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def display_path(path: Path, *, base: Path) -> str:
    """`path` relative to `base` when it is inside it, in forward slashes."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def parse_file(path: Path, *, base: Path) -> SourceModule | UnreadableFile:
    shown = display_path(path, base=base)
    try:
        text = path.read_text(encoding="utf-8")
        with warnings.catch_warnings():
            # Invalid escape sequences and the like are the scanned project's business.
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError, MemoryError) as exc:
        return UnreadableFile(display_path=shown, reason=_reason(exc))
    name, root = module_name(path)
    return SourceModule(path=path, display_path=shown, name=name, tree=tree, import_root=root, text=text)


def _reason(exc: Exception) -> str:
    if isinstance(exc, SyntaxError):
        return f"does not parse: {exc.msg} (line {exc.lineno})"
    if isinstance(exc, RecursionError | MemoryError):
        return "does not parse: nested too deeply"
    return f"cannot be read: {exc}"
