"""The docs pages include code, never paste it, and everything they include exists.

Reads the Markdown itself, so it runs without mkdocs: a fenced block that repeats three
consecutive lines of the project's Python is a copy that will go stale; an include whose
file, section or definition is gone would fail the strict build later; a test a page
names is a link to its section of the spec page.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools import audit_excerpts, outputs, spec, tracebacks, versions
from playbook.docs_tools.symbols import (
    DOCSTRING_INCLUDE,
    MissingSymbol,
    extract,
    module_docstring,
)
from playbook.docs_tools.symbols import INCLUDE as SYMBOL_INCLUDE
from playbook.docs_tools.symbols import pages as docs_pages

DOCS = PROJECT_ROOT / "docs"
CODE_FOLDERS = ("legacy", "standardized", "playbook", "docs_src")
WINDOW = 3
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})")
SNIPPET = re.compile(r'--8<--\s+"(?P<target>[^"]+)"')
LINE_RANGE = re.compile(r"^(?P<path>.+?)(?::-?\d+){1,2}$")
SECTION = re.compile(r"^(?P<path>.+\.\w+):(?P<name>[a-z][-_0-9a-z]*)$")
TEST_NAME = re.compile(r"`(test_\w+)`")


@dataclass(frozen=True)
class CodeBlock:
    page: str
    line: int
    lines: tuple[str, ...]


def pages() -> list[Path]:
    return docs_pages(DOCS)


def _page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


def code_blocks(markdown: str, page_id: str) -> Iterator[CodeBlock]:
    """Fenced blocks of a page, nested in tabs or admonitions or not."""
    opening: re.Match[str] | None = None
    content: list[str] = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = FENCE.match(line)
        if opening is None:
            if match:
                opening, start, content = match, number, []
        elif match and match["fence"][0] == opening["fence"][0] and len(match["fence"]) >= len(opening["fence"]):
            yield CodeBlock(page_id, start, tuple(content))
            opening = None
        else:
            content.append(line)


def windows(lines: tuple[str, ...] | list[str]) -> set[tuple[str, ...]]:
    """Every run of WINDOW consecutive non-blank lines, stripped, that has a letter in it."""
    significant = [line.strip() for line in lines if line.strip()]
    runs = (tuple(significant[i : i + WINDOW]) for i in range(len(significant) - WINDOW + 1))
    return {run for run in runs if any(char.isalpha() for line in run for char in line)}


@pytest.fixture(scope="module")
def project_code_windows() -> dict[tuple[str, ...], str]:
    """Each window of project code, mapped to one file it comes from."""
    found: dict[tuple[str, ...], str] = {}
    for folder in CODE_FOLDERS:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for run in windows(path.read_text().splitlines()):
                found.setdefault(run, str(path.relative_to(PROJECT_ROOT)))
    return found


def includes(page: Path) -> list[str]:
    return SNIPPET.findall(page.read_text())


WRITTEN_BEFORE_THE_BUILD = tracebacks.OUTPUT_FILES | versions.OUTPUT_FILES | outputs.OUTPUT_FILES | spec.OUTPUT_FILES


def generated_include_problem(target: str) -> str | None:
    """Why a file that a make step writes before the build would not be there, or None when it would."""
    symbol = SYMBOL_INCLUDE.fullmatch(target)
    docstring = DOCSTRING_INCLUDE.fullmatch(target)
    audit = audit_excerpts.INCLUDE.fullmatch(target)
    checks = audit_excerpts.CHECKS_INCLUDE.fullmatch(target)
    try:
        if symbol:
            extract(symbol[1])
        elif docstring:
            module_docstring(docstring[1])
        elif audit:
            audit_excerpts.excerpt(audit[1], audit[2])
        elif checks:
            audit_excerpts.checks_paragraph(checks[1])
        elif PROJECT_ROOT / target not in WRITTEN_BEFORE_THE_BUILD:
            return f"nothing writes {target}"
    except (MissingSymbol, audit_excerpts.UnknownEntryPoint) as exc:
        return str(exc)
    return None


def include_problem(target: str) -> str | None:
    """Why an include target would not resolve, or None when it does."""
    if target.startswith("docs/generated/"):
        return generated_include_problem(target)
    if (PROJECT_ROOT / target).is_file():
        return None
    line_range, section = LINE_RANGE.match(target), SECTION.match(target)
    if line_range and (PROJECT_ROOT / line_range["path"]).is_file():
        return None
    if section and (PROJECT_ROOT / section["path"]).is_file():
        text = (PROJECT_ROOT / section["path"]).read_text()
        markers = [f"--8<-- [{edge}:{section['name']}]" for edge in ("start", "end")]
        missing = [marker for marker in markers if marker not in text]
        return f"{section['path']} has no {' or '.join(missing)}" if missing else None
    return f"no file {target}"


def defined_test_names() -> set[str]:
    return {
        name
        for path in (PROJECT_ROOT / "tests").rglob("*.py")
        for name in re.findall(r"def (test_\w+)", path.read_text())
    }


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_page_includes_project_code_instead_of_pasting_it(
    page: Path, project_code_windows: dict[tuple[str, ...], str]
) -> None:
    pasted = [
        f"{block.page}:{block.line} repeats {project_code_windows[run]}: {' / '.join(run)}"
        for block in code_blocks(page.read_text(), _page_id(page))
        for run in sorted(windows(block.lines) & project_code_windows.keys())[:1]
    ]
    assert pasted == []


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_every_include_resolves(page: Path) -> None:
    problems = {target: problem for target in includes(page) if (problem := include_problem(target))}
    assert problems == {}


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_every_snippet_marker_is_well_formed(page: Path) -> None:
    # A marker the snippets extension does not recognise is shown as text, and the build passes.
    markers = [line.strip() for line in page.read_text().splitlines() if line.strip().startswith("--8")]
    assert [marker for marker in markers if not SNIPPET.fullmatch(marker)] == []


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_every_test_a_page_names_exists(page: Path) -> None:
    named = set(TEST_NAME.findall(page.read_text()))
    assert named - defined_test_names() == set()


@pytest.fixture(scope="module")
def spec_anchors() -> dict[tuple[str, str], str]:
    return spec.anchors()


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_every_test_a_page_names_links_to_its_source(page: Path, spec_anchors: dict[tuple[str, str], str]) -> None:
    # `make spec SPEC_ARGS=--link` links the bare ones.
    text = page.read_text()
    assert spec.bare_mentions(text, spec_anchors) == []
    assert spec.wrong_links(text, page, spec_anchors) == []


def _mkdocs_config() -> dict[str, Any]:
    class ConfigLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML publishes no types
        """Reads `!!python/name:` tags as their dotted names instead of importing them."""

    ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda _loader, _suffix, node: node.value)
    config: dict[str, Any] = yaml.load((PROJECT_ROOT / "mkdocs.yml").read_text(), Loader=ConfigLoader)
    return config


def _extension_options(config: dict[str, Any], name: str) -> dict[str, Any]:
    for extension in config["markdown_extensions"]:
        if extension == name:
            return {}
        if isinstance(extension, dict) and name in extension:
            return extension[name] or {}
    raise AssertionError(f"mkdocs.yml does not enable {name}")


def test_mkdocs_config_has_no_hooks_and_checks_snippet_paths() -> None:
    config = _mkdocs_config()
    # No hooks: the same config must build with Zensical, which does not run MkDocs hooks.
    assert "hooks" not in config
    snippets = _extension_options(config, "pymdownx.snippets")
    assert snippets["check_paths"] is True
    assert snippets["base_path"] == ["."]


def test_the_checks_see_pasted_code_and_missing_includes() -> None:
    """The detectors themselves: a pasted function is seen, a gone section is reported."""
    pasted = (PROJECT_ROOT / "standardized" / "db.py").read_text().splitlines()[-6:]
    page = '=== "Tab"\n\n    ``` py\n' + "\n".join(f"    {line}" for line in pasted) + "\n    ```\n"
    [block] = code_blocks(page, "page.md")
    assert windows(block.lines) & windows(pasted)
    assert include_problem("docs_src/pitfalls/work_order_batch.py:no-such-section") == (
        "docs_src/pitfalls/work_order_batch.py has no --8<-- [start:no-such-section] or --8<-- [end:no-such-section]"
    )
    assert include_problem("docs/generated/symbols/standardized.db.no_such_name.py") == (
        "standardized.db.no_such_name: standardized/db.py defines no top-level no_such_name"
    )
    assert include_problem("docs/generated/audit/legacy.no_such_task.txt") == (
        "the audit of legacy/ finds no entry point no_such_task"
    )
    assert include_problem("docs/generated/tracebacks/F12.txt") == "nothing writes docs/generated/tracebacks/F12.txt"
    assert include_problem("docs/generated/outputs/no-such-command.txt") == (
        "nothing writes docs/generated/outputs/no-such-command.txt"
    )
    assert include_problem("docs/generated/audit/checks.F12.md") == "no audit check reports or enforces F12"


def test_the_link_check_sees_bare_and_misdirected_test_names(spec_anchors: dict[tuple[str, str], str]) -> None:
    """The detectors of the link test: a bare name, a link to the wrong test, and the linker itself."""
    page = DOCS / "services" / "batch.md"
    bare = "Checked by `test_batch_is_accepted_as_pending` and `test_x_not_a_test`."
    assert spec.bare_mentions(bare, spec_anchors) == ["`test_batch_is_accepted_as_pending`"]
    linked = spec.link_mentions(bare, page, spec_anchors)
    assert linked == (
        "Checked by [`test_batch_is_accepted_as_pending`](../spec.md#test_batch_is_accepted_as_pending)"
        " and `test_x_not_a_test`."
    )
    assert spec.bare_mentions(linked, spec_anchors) == []
    assert spec.wrong_links(linked, page, spec_anchors) == []
    misdirected = "[`test_batch_is_accepted_as_pending`](../spec.md#test_unknown_job_id_is_404)"
    assert spec.wrong_links(misdirected, page, spec_anchors) == [misdirected]
    # A name two modules define is linked to the one the page named last before it.
    shared = "test_batch_goes_pending_processing_completed"
    sitemap = spec.link_mentions(f"`tests/test_sitemap.py`: `{shared}`", page, spec_anchors)
    assert sitemap.endswith(f"(../spec.md#test_sitemap-{shared})")
    with pytest.raises(spec.UnlinkableMention, match=r"defined in test_batch, test_sitemap"):
        spec.link_mentions(f"`{shared}`", page, spec_anchors)
