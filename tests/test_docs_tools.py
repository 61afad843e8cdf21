"""The docs machinery that runs before and after the build: what every build includes exists
(the committed snapshots, the pinned releases), the browser check visits every page and
accepts a catalog entry's parts as the entry, the perf snapshot never records a partial
set, the spec page has a section for every test, and a command whose output a page shows
fails the build when it ends otherwise than the page says.

The browser itself runs in `make docs-check`, not here: it needs Chromium and a built site.
"""

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools import check, matrix, outputs, perf_snapshot, spec, versions
from playbook.docs_tools.symbols import pages as docs_pages

DOCS = PROJECT_ROOT / "docs"


def test_the_browser_check_visits_every_page_at_its_url() -> None:
    visited = {page.path for page in check.nav_pages()}
    expected = {
        "" if page.name == "index.md" else f"{page.relative_to(DOCS).with_suffix('')}/" for page in docs_pages(DOCS)
    }
    assert visited == expected
    assert {page.name for page in check.nav_pages()} >= {"home", "catalog", "services-batch"}


def test_every_catalog_entry_has_a_message_searched_for() -> None:
    searched = {entry for message in check.CATALOG_MESSAGES for entry in message.entries}
    # F11 prints nothing of its own: the job just stays non-terminal.
    assert searched == {f"f{number}" for number in range(1, 11)}


def test_a_catalog_entry_or_one_of_its_parts_counts_as_found() -> None:
    assert check.within_entry("catalog/#f1", ("f1", "f2"))
    assert check.within_entry("catalog/#f2-synopsis", ("f1", "f2"))
    assert not check.within_entry("catalog/#f10-synopsis", ("f1",))
    assert not check.within_entry("standard/#r1-synopsis", ("f1",))
    assert not check.within_entry("catalog/", ("f1",))


def test_the_spec_page_has_one_section_per_test_function() -> None:
    modules = spec.read_spec()
    tests = {(test.module, test.name): test for module in modules for test in module.tests}
    defined = {
        (path.stem, name)
        for path in (PROJECT_ROOT / "tests").glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
    }
    assert tests.keys() == defined
    assert len({test.anchor for test in tests.values()}) == len(tests)
    rendered = spec.render(modules)
    assert all(f"{{ #{test.anchor} }}" in rendered for test in tests.values())


def test_the_spec_page_says_which_variants_a_test_serves() -> None:
    tests = {test.name: test for module in spec.read_spec() for test in module.tests}
    shared = tests["test_batch_completes_and_persists_every_item"]
    assert shared.variants.startswith("both variants; legacy is a strict xfail naming [F2](catalog.md#f2), ")
    assert "reads the expired batch" in shared.variants
    assert tests["test_legacy_batch_dies_with_missing_greenlet_after_the_202_F2"].variants == "legacy only"
    # A module-wide mark, and a module whose own `variant` fixture is no parametrization.
    assert tests["test_job_of_a_live_process_is_never_touched"].variants == "standardized only"
    assert tests["test_unknown_job_id_is_404"].variants == "both variants"
    assert tests["test_every_include_resolves"].variants == "once, serving no variant"
    assert tests["test_every_include_resolves"].marks == ('@pytest.mark.parametrize("page", pages(), ids=_page_id)',)
    assert tests["test_batch_is_accepted_as_pending"].summary == "Batch is accepted as pending."
    source = tests["test_batch_is_accepted_as_pending"].source
    assert source.startswith("async def test_batch_is_accepted_as_pending(")


def test_an_output_is_the_command_and_what_it_printed(tmp_path: Path) -> None:
    script = tmp_path / "prints.py"
    script.write_text(f"import sys\nprint('to stdout', {str(tmp_path)!r})\nprint('to stderr', file=sys.stderr)\n")
    printed = outputs.run(outputs.Output("example", f"python {script}"), root=tmp_path)
    assert printed == "$ python " + str(script) + "\nto stdout .\nto stderr\n"
    assert outputs.shown(f"  at {tmp_path}/docs/page.md  \n\n", root=tmp_path) == "  at docs/page.md\n"


def test_a_command_that_ends_otherwise_than_the_page_says_fails_the_build(tmp_path: Path) -> None:
    failing = outputs.Output("example", 'python -c "raise SystemExit(3)"')
    with pytest.raises(outputs.NotAsDocumented, match=r"exit status 3, the page says 0"):
        outputs.run(failing, root=tmp_path)
    kept = outputs.run(
        outputs.Output("example", "python -c \"print('a'); print('b'); print('c')\"", last_lines=1), root=tmp_path
    )
    assert kept == "$ python -c \"print('a'); print('b'); print('c')\"\nc\n"


def test_every_command_output_is_shown_on_a_page() -> None:
    included = {
        PROJECT_ROOT / target
        for page in docs_pages(DOCS)
        for target in re.findall(r'--8<--\s+"(docs/generated/outputs/[^"]+)"', page.read_text())
    }
    assert included == outputs.OUTPUT_FILES


def test_pinned_releases_are_read_from_the_lock_file() -> None:
    locked = versions.locked_versions()
    assert {name: locked[name] for name in ("fastapi", "sqlalchemy", "asyncpg")} == {
        name: version(name) for name in ("fastapi", "sqlalchemy", "asyncpg")
    }
    phrase = versions.pinned_phrase(locked, "18.6")
    assert phrase.startswith(f"FastAPI {version('fastapi')}, Starlette {version('starlette')}, ")
    assert phrase.endswith(" and PostgreSQL 18.6")


def test_the_committed_version_matrix_covers_every_pair() -> None:
    snapshot = json.loads(matrix.SNAPSHOT.with_suffix(".json").read_text())
    measured = {(row["releases"]["fastapi"], row["releases"]["sqlalchemy"]) for row in snapshot["rows"]}
    assert len(measured) == len(matrix.FASTAPI) * len(matrix.SQLALCHEMY)
    assert matrix.SNAPSHOT.with_suffix(".md").read_text() == matrix.render(snapshot)


def test_the_matrix_names_what_each_arrangement_did() -> None:
    closed = {
        matrix.CONNECTION: "returned",
        matrix.READ: "DetachedInstanceError: Instance <Note at 0x…> is not bound to a Session",
    }
    row = {
        "releases": {"fastapi": "0.115.14", "starlette": "0.46.2", "sqlalchemy": "2.0.58"},
        "observed": {
            matrix.DEFAULT: closed,
            matrix.FUNCTION_SCOPE: {matrix.DECLARING: "TypeError: Depends() got an unexpected keyword argument"},
            matrix.IN_ENDPOINT: closed,
        },
    }
    snapshot = {"date": "2026-01-01", "python": "3.11.7", "postgresql": "18.6", "fixed": {}, "rows": [row]}
    table_row = matrix.render(snapshot).splitlines()[2]
    assert table_row == (
        "| 0.115.14 | 0.46.2 | 2.0.58 | `DetachedInstanceError` ([F7](catalog.md#f7)) | returned "
        "| `TypeError`: no `scope` | `DetachedInstanceError` ([F7](catalog.md#f7)); connection returned |"
    )


def test_the_committed_perf_snapshot_says_where_and_when() -> None:
    recorded = json.loads((perf_snapshot.SNAPSHOT / "provenance.json").read_text())
    assert set(recorded) == {"recorded", "runs ended", "commit", "machine", "releases"}
    assert set(recorded["runs ended"]) == set(perf_snapshot.RESULTS)
    assert recorded["machine"]["cores"] > 0 and recorded["machine"]["memory_gib"] > 0
    for name in (*perf_snapshot.PAGE_FILES, "provenance.md", "compare.md", "compare-faults.md"):
        assert (perf_snapshot.SNAPSHOT / name).stat().st_size > 0, name


def test_the_perf_snapshot_is_not_recorded_from_a_partial_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = tmp_path / "generated"
    generated.mkdir()
    for name in perf_snapshot.PAGE_FILES:
        (generated / name).write_text("figures")
    results = {name: tmp_path / f"{name}.json" for name in perf_snapshot.RESULTS}
    for path in list(results.values())[:-1]:
        path.write_text("{}")
    monkeypatch.setattr(perf_snapshot, "GENERATED", generated)
    monkeypatch.setattr(perf_snapshot, "RESULTS", results)
    destination = tmp_path / "snapshot"
    with pytest.raises(perf_snapshot.Incomplete, match=r"missing .*compare\.json"):
        perf_snapshot.record(destination)
    assert not destination.exists()
