"""Finding the Python files to audit and parsing them, without importing or running them.

Every file is read; only the ones that mention what the audit looks for (sessions,
engines, tasks and the calls that start them) are parsed up front. The others are parsed
when analysed code imports from them, so a large tree costs little more than its text.
Tests are left out unless asked for: a test that hands a session to a task on purpose
would change what the audit says about the application.
"""

import ast
import fnmatch
import os
import re
import tokenize
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})
TEST_DIRECTORIES = frozenset({"tests", "test", "testing"})
# Words without which a module holds nothing the checks report (entry points, sessions,
# engines, event loops); such a module is still read when analysed code calls into it.
RELEVANT = re.compile(
    r"[Ss]ession|[Ee]ngine|[Cc]onnection|add_task|create_task|ensure_future|start_soon|to_thread"
    r"|run_in_threadpool|run_in_executor|BackgroundTask|gather|TaskGroup|\btask\b|shared_task|actor"
    r"|WorkerSettings|add_job|asyncio\.run|run_until_complete|new_event_loop|ContextVar"
)


@dataclass(eq=False)
class SourceModule:
    """One file, named the way Python would import it; its tree is parsed on first use."""

    path: Path
    display_path: str
    name: str
    import_root: Path
    text: str
    _tree: ast.Module | None = field(default=None, repr=False)
    _problem: str | None = field(default=None, repr=False)
    _lines: list[str] | None = field(default=None, repr=False)

    def lines(self, start: int, end: int) -> str:
        """Source lines `start` to `end` (1-based, inclusive)."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return "\n".join(self._lines[start - 1 : end])

    @property
    def tree(self) -> ast.Module:
        """The syntax tree; an empty module when the file does not parse (see `problem`)."""
        if self._tree is None:
            parsed = _parse(self.text, self.path)
            if isinstance(parsed, str):
                self._problem, parsed = parsed, ast.Module(body=[], type_ignores=[])
            self._tree = parsed
        return self._tree

    @property
    def problem(self) -> str | None:
        """Why the file could not be parsed, once it was tried."""
        return self._problem

    def mentions(self, words: Iterable[str]) -> bool:
        """Whether any of `words` appears in the source: a cheap test before walking the tree."""
        return any(word in self.text for word in words)

    @property
    def relevant(self) -> bool:
        return RELEVANT.search(self.text) is not None

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


@dataclass(frozen=True)
class FileFilter:
    """Which files under the given paths are audited."""

    exclude: tuple[str, ...] = ()
    include_tests: bool = False
    root: Path | None = None

    def skips_folder(self, folder: Path) -> bool:
        name = folder.name
        if name.startswith(".") or name in SKIPPED_DIRECTORIES:
            return True
        if not self.include_tests and name in TEST_DIRECTORIES:
            return True
        return self._excluded(folder)

    def skips_file(self, file: Path) -> bool:
        if not self.include_tests and _is_test_file(file.name):
            return True
        return self._excluded(file)

    def _excluded(self, path: Path) -> bool:
        if not self.exclude:
            return False
        relative = _relative(path.resolve(), self.root)
        return any(_matches(relative, pattern) for pattern in self.exclude)


def _is_test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def _relative(path: Path, root: Path | None) -> PurePosixPath:
    if root is not None:
        try:
            return PurePosixPath(path.relative_to(root).as_posix())
        except ValueError:
            pass
    return PurePosixPath(path.as_posix())


def _matches(path: PurePosixPath, pattern: str) -> bool:
    """A glob against the path or any of its trailing parts; a bare folder name matches inside it."""
    pattern = pattern.rstrip("/")
    text = path.as_posix()
    parts = path.parts
    tails = ["/".join(parts[start:]) for start in range(len(parts))]
    return any(fnmatch.fnmatch(candidate, pattern) for candidate in [text, *tails]) or pattern in parts


def python_files(paths: Iterable[Path], file_filter: FileFilter | None = None) -> list[Path]:
    """Every .py file under `paths`, walked recursively. A file named on its own is always taken."""
    chosen = file_filter or FileFilter()
    # One entry per file however it is reached, named by the path it was reached by: a folder
    # behind a symbolic link is still shown under the name it was given.
    found: dict[Path, Path] = {}
    for path in paths:
        for file in _walk(path, chosen):
            found.setdefault(file.resolve(), file.absolute())
    return list(found.values())


def _walk(path: Path, file_filter: FileFilter) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for directory, subdirectories, files in os.walk(path):
        here = Path(directory)
        subdirectories[:] = sorted(name for name in subdirectories if not file_filter.skips_folder(here / name))
        yield from (
            here / name for name in sorted(files) if name.endswith(".py") and not file_filter.skips_file(here / name)
        )


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


def read_file(path: Path, *, base: Path) -> SourceModule | UnreadableFile:
    """The file's text, named; its tree is parsed later, when first needed."""
    shown = display_path(path, base=base)
    try:
        text = _source_text(path)
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        return UnreadableFile(display_path=shown, reason=f"cannot be read: {_reason(exc)}")
    name, root = module_name(path)
    return SourceModule(path=path, display_path=shown, name=name, import_root=root, text=text)


def _source_text(path: Path) -> str:
    """The text as Python reads it: a UTF-8 BOM dropped, a PEP 263 `coding:` line obeyed.

    The text is parsed as a string, which ignores the declaration: lines and columns come
    out as they would for the same code saved as plain UTF-8.
    """
    with tokenize.open(path) as source:
        return source.read()


def _reason(exc: SyntaxError | UnicodeDecodeError | OSError) -> str:
    # An unknown or contradictory encoding declaration is a SyntaxError of `tokenize.detect_encoding`.
    return exc.msg if isinstance(exc, SyntaxError) else str(exc)


def _parse(text: str, path: Path) -> ast.Module | str:
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences and the like are the scanned project's business.
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        return f"does not parse: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return "does not parse: nested too deeply" if not isinstance(exc, ValueError) else f"does not parse: {exc}"
