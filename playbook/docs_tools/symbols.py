"""`make symbols`: the functions and classes the docs include, cut from the real files by name.

A page includes `docs/generated/symbols/<module>.<name>.py`; this writes each such file
with the top-level definition `name` of `<module>` as it is now, decorators and the
comment lines right above it included. Line numbers shift as code changes; names do not,
and a name that is gone fails the build here instead of showing the wrong lines.

A page that describes a module in its own words includes
`docs/generated/docstrings/<module>.md`: the module's docstring, which is Markdown.
"""

import ast
import re
import sys
from pathlib import Path

from playbook.app.settings import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
OUTPUT = DOCS / "generated" / "symbols"
INCLUDE = re.compile(r"docs/generated/symbols/([\w.]+)\.py")
DOCSTRINGS = DOCS / "generated" / "docstrings"
DOCSTRING_INCLUDE = re.compile(r"docs/generated/docstrings/([\w.]+)\.md")


class MissingSymbol(LookupError):
    """A page includes a definition its module does not have."""


def source_file(module: str) -> Path:
    base = PROJECT_ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def module_docstring(module: str) -> str:
    """The docstring of `module`, as Markdown."""
    path = source_file(module)
    if not path.is_file():
        raise MissingSymbol(f"{module}: no module file {path.relative_to(PROJECT_ROOT)}")
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    if docstring is None:
        raise MissingSymbol(f"{module}: {path.relative_to(PROJECT_ROOT)} has no docstring")
    return docstring + "\n"


def extract(qualified_name: str) -> str:
    """The source of top-level `module.name`, with its decorators and the comments just above it."""
    module, _, name = qualified_name.rpartition(".")
    path = source_file(module)
    if not path.is_file():
        raise MissingSymbol(f"{qualified_name}: no module file {path.relative_to(PROJECT_ROOT)}")
    source = path.read_text()
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if name in _defined_names(node):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1
            return "\n".join(lines[first : node.end_lineno]) + "\n"
    raise MissingSymbol(f"{qualified_name}: {path.relative_to(PROJECT_ROOT)} defines no top-level {name}")


def pages(docs: Path = DOCS) -> list[Path]:
    """The pages under `docs`; the Markdown that make steps write (`generated/`, `snapshots/`) is not one."""
    written = (docs / "generated", docs / "snapshots")
    return sorted(page for page in docs.rglob("*.md") if not any(page.is_relative_to(folder) for folder in written))


def included_symbols(docs: Path = DOCS, pattern: re.Pattern[str] = INCLUDE) -> set[str]:
    """Every `module.name` (or, with DOCSTRING_INCLUDE, every module) a page under `docs` includes."""
    return {match for page in pages(docs) for match in pattern.findall(page.read_text())}


def _replace_files(folder: Path, suffix: str, texts: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"*{suffix}"):
        stale.unlink()
    for name, text in texts.items():
        (folder / f"{name}{suffix}").write_text(text)


def main() -> int:
    try:
        extracted = {name: extract(name) for name in sorted(included_symbols())}
        docstrings = {
            module: module_docstring(module) for module in sorted(included_symbols(pattern=DOCSTRING_INCLUDE))
        }
    except MissingSymbol as exc:
        print(f"symbols: {exc}", file=sys.stderr)
        return 1
    _replace_files(OUTPUT, ".py", extracted)
    _replace_files(DOCSTRINGS, ".md", docstrings)
    print(
        f"symbols: wrote {len(extracted)} definitions to {OUTPUT.relative_to(PROJECT_ROOT)}"
        f" and {len(docstrings)} docstrings to {DOCSTRINGS.relative_to(PROJECT_ROOT)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
