"""`make spec`: the spec in `tests/` as a page of the site, and every test a page names linked to it.

The site is read offline, with no repository to link to, so the tests are published on it:
`docs/spec.md` includes `docs/generated/spec/tests.md`, written here from the test modules
as they are now. Each test function gets a section whose anchor is its name (its module's
name and its own where two modules define the same one): what it checks (its docstring, or
its first comment), the variants it runs on and what it expects of legacy, its marks, and
its source, cut out by `symbols.extract`.

A page names a test as `` [`test_x`](spec.md#test_x) ``; `python -m playbook.docs_tools.spec
--link` turns every bare `` `test_x` `` on the pages into such a link (a name two modules
define is linked to the module the page names last before it), and
`tests/test_docs_pages.py` fails on a mention left bare. Only the test modules are read,
never imported: nothing runs.
"""

import argparse
import ast
import html
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools.symbols import extract, pages

DOCS = PROJECT_ROOT / "docs"
TESTS = PROJECT_ROOT / "tests"
SPEC_PAGE = DOCS / "spec.md"
OUTPUT = DOCS / "generated" / "spec"
GENERATED = OUTPUT / "tests.md"
OUTPUT_FILES = frozenset({GENERATED})
# `test_x` or `test_x[param]` in backticks, not already the text of a link.
MENTION = re.compile(r"(?<!\[)`(?P<name>test_\w+)(?P<param>\[[^\]`]*\])?`(?!\]\()")
LINKED = re.compile(r"\[`(?P<name>test_\w+)(?:\[[^\]`]*\])?`\]\((?P<target>[^)#\s]*)#(?P<anchor>[\w.-]+)\)")
MODULE_MENTION = re.compile(r"tests/(test_\w+)\.py")
CATALOG_ID = re.compile(r"^F\d+$")
VARIANT_FIXTURE = "variant"


@dataclass(frozen=True)
class SpecTest:
    module: str  # `test_batch`
    name: str
    anchor: str
    line: int
    summary: str  # the docstring, or the first comment, as Markdown
    variants: str  # which variants it runs on, and what it expects of legacy
    marks: tuple[str, ...]  # pytest marks other than the variant ones, as written
    source: str


@dataclass(frozen=True)
class SpecModule:
    name: str
    summary: str
    tests: tuple[SpecTest, ...]

    @property
    def path(self) -> str:
        return f"tests/{self.name}.py"

    @property
    def anchor(self) -> str:
        return f"tests-{self.name}"


class UnlinkableMention(LookupError):
    """A page names a test that several modules define, and no module mention says which."""


# --- reading the test modules ----------------------------------------------------------


def test_modules(tests: Path = TESTS) -> list[Path]:
    return sorted(tests.glob("test_*.py"))


def _test_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    ]


def anchors(tests: Path = TESTS) -> dict[tuple[str, str], str]:
    """The anchor of each (module, test): its name, or `module-name` where another module defines it too."""
    defined = [
        (path.stem, function.name)
        for path in test_modules(tests)
        for function in _test_functions(ast.parse(path.read_text()))
    ]
    count = Counter(name for _, name in defined)
    return {(module, name): name if count[name] == 1 else f"{module}-{name}" for module, name in defined}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _mark_name(decorator: ast.expr) -> str | None:
    dotted = _dotted(decorator)
    return dotted.removeprefix("pytest.mark.") if dotted.startswith("pytest.mark.") else None


def _is_fixture(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
        _dotted(decorator) == "pytest.fixture" for decorator in node.decorator_list
    )


def _fixtures(tree: ast.Module, module: str) -> dict[str, tuple[str, list[str]]]:
    """Each fixture `tree` defines: (where, the fixtures it asks for)."""
    return {
        node.name: (module, [arg.arg for arg in node.args.args if arg.arg != "request"])
        for node in tree.body
        if _is_fixture(node) and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _uses_conftest_variant(params: list[str], fixtures: dict[str, tuple[str, list[str]]]) -> bool:
    """Whether the fixtures `params` ask for, followed down, reach the conftest's parametrized `variant`."""
    seen: set[str] = set()
    wanted = list(params)
    while wanted:
        name = wanted.pop()
        if name in seen or name not in fixtures:
            continue
        seen.add(name)
        where, asks_for = fixtures[name]
        if name == VARIANT_FIXTURE and where == "conftest":
            return True
        wanted.extend(asks_for)
    return False


def _catalog_links(ids: list[str]) -> str:
    return ", ".join(f"[{id_}](catalog.md#{id_.lower()})" if CATALOG_ID.match(id_) else id_ for id_ in ids)


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """The module's top-level `NAME = "text"` assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(value, str):
                found[node.targets[0].id] = value
    return found


def _string(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return constants.get(node.id) if isinstance(node, ast.Name) else None


def _fails_on_legacy(decorator: ast.expr, constants: dict[str, str]) -> str:
    assert isinstance(decorator, ast.Call)
    ids = [text for arg in decorator.args if (text := _string(arg, constants))]
    reasons = [text for kw in decorator.keywords if kw.arg == "reason" and (text := _string(kw.value, constants))]
    reason = f": {_escaped(reasons[0])}" if reasons else ""
    return f"legacy is a strict xfail naming {_catalog_links(ids)}{reason}"


def _variants(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    module_marks: list[str],
    fixtures: dict[str, tuple[str, list[str]]],
    constants: dict[str, str],
) -> str:
    names = [_mark_name(decorator) for decorator in function.decorator_list] + module_marks
    if "legacy" in names:
        return "legacy only"
    if "standardized" in names:
        return "standardized only"
    if not _uses_conftest_variant([arg.arg for arg in function.args.args], fixtures):
        return "once, serving no variant"
    expected = [_fails_on_legacy(d, constants) for d in function.decorator_list if _mark_name(d) == "fails_on_legacy"]
    return "both variants" + (f"; {expected[0]}" if expected else "")


def _opening_comment(function: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str:
    """The comment lines the body opens with, without the `#`."""
    found: list[str] = []
    for line in lines[function.body[0].lineno - 1 - 1 :: -1]:
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        found.insert(0, stripped.lstrip("#").strip())
    return " ".join(found)


def _as_sentence(name: str) -> str:
    """`test_batch_is_accepted_as_pending` as "Batch is accepted as pending."."""
    words = name.removeprefix("test_").replace("_", " ")
    return f"{words[:1].upper()}{words[1:]}."


def _escaped(text: str) -> str:
    """`text` as Markdown prose: HTML special characters escaped outside `code`."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") else html.escape(part, quote=False) for part in parts)


def _summary(function: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str:
    """The docstring; else the comment the body opens with; else the name, read as a sentence."""
    docstring = ast.get_docstring(function)
    return _escaped(docstring or _opening_comment(function, lines) or _as_sentence(function.name))


def _marks_as_written(function: ast.FunctionDef | ast.AsyncFunctionDef, text: str) -> tuple[str, ...]:
    shown = []
    for decorator in function.decorator_list:
        name = _mark_name(decorator)
        if name in {"legacy", "standardized", "fails_on_legacy"}:
            continue
        if name is not None or _dotted(decorator).split(".")[-1] in {"given", "settings", "example"}:
            written = ast.get_source_segment(text, decorator) or ""
            shown.append("@" + " ".join(written.split()))
    return tuple(shown)


def _module_marks(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            return [name for value in values if (name := _mark_name(value))]
    return []


def read_module(
    path: Path, conftest: dict[str, tuple[str, list[str]]], anchor_of: dict[tuple[str, str], str]
) -> SpecModule:
    text = path.read_text()
    tree = ast.parse(text)
    fixtures = conftest | _fixtures(tree, path.stem)
    module_marks = _module_marks(tree)
    constants = _string_constants(tree)
    lines = text.splitlines()
    tests = []
    for function in _test_functions(tree):
        source = extract(f"tests.{path.stem}.{function.name}")
        tests.append(
            SpecTest(
                module=path.stem,
                name=function.name,
                anchor=anchor_of[path.stem, function.name],
                line=function.lineno,
                summary=_summary(function, lines),
                variants=_variants(function, module_marks, fixtures, constants),
                marks=_marks_as_written(function, text),
                source=source,
            )
        )
    docstring = ast.get_docstring(tree) or ""
    return SpecModule(path.stem, _escaped(docstring.split("\n\n")[0].replace("\n", " ")), tuple(tests))


def read_spec(tests: Path = TESTS) -> list[SpecModule]:
    conftest = _fixtures(ast.parse((tests / "conftest.py").read_text()), "conftest")
    anchor_of = anchors(tests)
    return [read_module(path, conftest, anchor_of) for path in test_modules(tests)]


# --- the page --------------------------------------------------------------------------


def _fence(source: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    return "`" * max(3, longest + 1)


def render_test(test: SpecTest) -> str:
    fence = _fence(test.source)
    code = "\n".join(f"    {line}" if line else "" for line in test.source.rstrip("\n").splitlines())
    lines = [f"### `{test.name}` {{ #{test.anchor} }}", ""]
    if test.summary:
        lines += [test.summary, ""]
    lines += [f"Runs {test.variants}."]
    if test.marks:
        lines += ["Marks: " + ", ".join(f"`{mark}`" for mark in test.marks) + "."]
    lines += [
        "",
        f'??? quote "`tests/{test.module}.py`, line {test.line}"',
        "",
        f"    {fence} py",
        code,
        f"    {fence}",
        "",
    ]
    return "\n".join(lines)


def render(modules: list[SpecModule]) -> str:
    parts = []
    for module in modules:
        parts += [f"## `{module.path}` {{ #{module.anchor} }}", ""]
        if module.summary:
            parts += [module.summary, ""]
        parts += [render_test(test) for test in module.tests]
    return "\n".join(parts)


# --- links from the pages --------------------------------------------------------------


def relative_link(page: Path, docs: Path = DOCS) -> str:
    """The link from `page` to the spec page, as Markdown resolves it."""
    return Path(os.path.relpath(docs / SPEC_PAGE.name, page.parent)).as_posix()


def link_mentions(markdown: str, page: Path, anchor_of: dict[tuple[str, str], str], docs: Path = DOCS) -> str:
    """`markdown` with every bare `test_x` linked to its section of the spec page."""
    modules_of: dict[str, list[str]] = {}
    for (module, name), _ in sorted(anchor_of.items()):
        modules_of.setdefault(name, []).append(module)
    target = relative_link(page, docs)

    def linked(match: re.Match[str]) -> str:
        name = match["name"]
        modules = modules_of.get(name)
        if modules is None:
            return match[0]
        if len(modules) == 1:
            module = modules[0]
        else:
            named_before = [m for m in MODULE_MENTION.findall(markdown[: match.start()]) if m in modules]
            if not named_before:
                raise UnlinkableMention(
                    f"{page.name}: `{name}` is defined in {', '.join(modules)}; name the module before it"
                )
            module = named_before[-1]
        return f"[{match[0]}]({target}#{anchor_of[module, name]})"

    return MENTION.sub(linked, markdown)


def bare_mentions(markdown: str, anchor_of: dict[tuple[str, str], str]) -> list[str]:
    """Every mention of a test of the spec that is not a link."""
    defined = {name for _, name in anchor_of}
    return [match[0] for match in MENTION.finditer(markdown) if match["name"] in defined]


def wrong_links(markdown: str, page: Path, anchor_of: dict[tuple[str, str], str], docs: Path = DOCS) -> list[str]:
    """Every link to a test that does not lead to that test's section of the spec page."""
    anchors_of: dict[str, set[str]] = {}
    for (_, name), anchor in anchor_of.items():
        anchors_of.setdefault(name, set()).add(anchor)
    target = relative_link(page, docs)
    return [
        match[0]
        for match in LINKED.finditer(markdown)
        if match["target"] != target or match["anchor"] not in anchors_of.get(match["name"], set())
    ]


def link_pages(docs: Path = DOCS) -> Iterator[str]:
    """Link every bare test name on the pages; yield each page changed."""
    anchor_of = anchors()
    for page in pages(docs):
        text = page.read_text()
        changed = link_mentions(text, page, anchor_of, docs)
        if changed != text:
            page.write_text(changed)
            yield str(page.relative_to(PROJECT_ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m playbook.docs_tools.spec", description=__doc__.split("\n\n")[0])
    parser.add_argument("--link", action="store_true", help="link every bare test name on the pages, then write")
    if parser.parse_args().link:
        try:
            for changed in link_pages():
                print(f"spec: linked the test names of {changed}", file=sys.stderr)
        except UnlinkableMention as exc:
            print(f"spec: {exc}", file=sys.stderr)
            return 1
    modules = read_spec()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    GENERATED.write_text(render(modules))
    tests = sum(len(module.tests) for module in modules)
    print(
        f"spec: wrote {tests} tests of {len(modules)} modules to {GENERATED.relative_to(PROJECT_ROOT)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
