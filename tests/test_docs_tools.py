"""The docs machinery that runs before and after the build: what every build includes exists
(the committed snapshots, the pinned releases), the browser check visits every page, and
the perf snapshot never records a partial set.

The browser itself runs in `make docs-check`, not here: it needs Chromium and a built site.
"""

import json
from importlib.metadata import version
from pathlib import Path

import pytest

from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools import check, matrix, perf_snapshot, versions
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
    for name in (*perf_snapshot.PAGE_FILES, "provenance.md", "compare.md"):
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
