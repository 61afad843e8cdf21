"""`make symbols`: the functions and classes the docs include, cut from the real files by name.

A page includes `docs/generated/symbols/<module>.<name>.py`; this writes each such file
with the top-level definition `name` of `<module>` as it is now, decorators and the
comment lines right above it included. Line numbers shift as code changes; names do not,
and a name that is gone fails the build here instead of showing the wrong lines.
"""

import ast
import re
import sys
from pathlib import Path

from playbook.settings import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
OUTPUT = DOCS / "generated" / "symbols"
INCLUDE = re.compile(r"docs/generated/symbols/([\w.]+)\.py")


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


def included_symbols(docs: Path = DOCS) -> set[str]:
    """Every `module.name` a page under `docs` includes."""
    return {match for page in docs.rglob("*.md") for match in INCLUDE.findall(page.read_text())}


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        extracted = {name: extract(name) for name in sorted(included_symbols())}
    except MissingSymbol as exc:
        print(f"symbols: {exc}", file=sys.stderr)
        return 1
    for stale in OUTPUT.glob("*.py"):
        stale.unlink()
    for name, source in extracted.items():
        (OUTPUT / f"{name}.py").write_text(source)
    print(f"symbols: wrote {len(extracted)} definitions to {OUTPUT.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
