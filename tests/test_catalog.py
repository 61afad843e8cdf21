"""The failure catalog, F1..F11, mapped to the spec: where each is reproduced on legacy code,
and where the standard pattern is shown to avoid it.

The map is checked against the test modules themselves, so a renamed or re-marked test
breaks it: a legacy test must be marked `legacy` and name its failure; a standardized one
must run on standardized code and, if it is shared with legacy, expect legacy to fail.
Every failure also has the signature a legacy xfail naming it must show
(`tests/legacy_failures.py`).
"""

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.legacy_failures import SIGNATURES

CATALOG_IDS = [f"F{n}" for n in range(1, 12)]


@dataclass(frozen=True)
class Entry:
    legacy: str  # module::test that reproduces the failure on legacy code
    standardized: str  # module::test that shows the standard pattern avoids it
    note: str = ""  # where a side shows less than the whole failure, why


CATALOG = {
    "F1": Entry(
        "test_sitemap::test_legacy_domain_scan_dies_on_lazy_load_F1",
        "test_sitemap::test_scan_stores_every_sitemap_and_url",
    ),
    "F2": Entry(
        "test_batch::test_legacy_batch_dies_with_missing_greenlet_after_the_202_F2",
        "test_batch::test_batch_completes_and_persists_every_item",
    ),
    "F3": Entry(
        "test_sitemap::test_legacy_single_domain_batch_dies_reading_onupdate_column_F3",
        "test_sitemap::test_batch_of_one_domain_completes",
    ),
    "F4": Entry(
        "test_email_scraper::test_legacy_sync_task_never_awaits_the_session_F4",
        "test_email_scraper::test_scan_stores_every_address_once_with_the_page_it_was_first_found_on",
    ),
    "F5": Entry(
        "test_email_scraper::test_legacy_asyncio_run_reuses_a_connection_of_a_closed_loop_F5",
        "test_email_scraper::test_scan_stores_every_address_once_with_the_page_it_was_first_found_on",
    ),
    "F6": Entry(
        "test_email_scraper::test_legacy_engine_dispose_cannot_close_the_connection_of_a_closed_loop_F6",
        "test_email_scraper::test_standardized_scan_leaves_no_connection_for_a_dead_loop_F6",
    ),
    "F7": Entry(
        "test_job_reaper::test_legacy_reaper_logs_from_jobs_its_closed_session_detached_F7",
        "test_job_reaper::test_reaper_keeps_sweeping_and_reaps_a_job_stuck_later",
    ),
    "F8": Entry(
        "test_job_reaper::test_legacy_request_session_reconnects_after_close_F8",
        "test_job_reaper::test_background_session_used_after_close_raises_instead_of_reconnecting",
        note=(
            "No legacy service reaches F8 on FastAPI 0.165: with the default dependency scope the request"
            " session is still open when tasks run (F2 instead). The legacy test shows what that session"
            " does once closed, as it would be under scope='function' or FastAPI 0.106-0.117."
        ),
    ),
    "F9": Entry(
        "test_sitemap::test_legacy_batch_dies_on_shared_session_in_gather_F9",
        "test_sitemap::test_standardized_batch_crawls_a_bounded_number_of_domains_at_once_F9",
    ),
    "F10": Entry(
        "test_places::test_legacy_concurrent_searches_exhaust_the_pool_F10",
        "test_places::test_concurrent_searches_on_a_small_pool_all_complete_and_reads_succeed",
    ),
    "F11": Entry(
        "test_email_scraper::test_legacy_swallows_the_error_and_leaves_the_job_pending_F11",
        "test_batch::test_database_failure_mid_batch_ends_failed_with_the_error",
    ),
}


def _test_function(reference: str) -> Callable[..., object]:
    module_name, name = reference.split("::")
    module = importlib.import_module(f"tests.{module_name}")
    function: Callable[..., object] | None = getattr(module, name, None)
    assert function is not None, f"{reference} does not exist"
    return function


def _marks(function: Callable[..., object]) -> dict[str, list[pytest.Mark]]:
    marks: dict[str, list[pytest.Mark]] = {}
    for mark in getattr(function, "pytestmark", []):
        marks.setdefault(mark.name, []).append(mark)
    return marks


def test_every_catalog_failure_is_mapped() -> None:
    assert list(CATALOG) == CATALOG_IDS


def test_every_catalog_failure_has_a_signature() -> None:
    assert list(SIGNATURES) == CATALOG_IDS


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_legacy_side_reproduces_the_failure(catalog_id: str) -> None:
    reference = CATALOG[catalog_id].legacy
    function = _test_function(reference)
    assert "legacy" in _marks(function), f"{reference} is not marked legacy"
    assert reference.endswith(f"_{catalog_id}"), f"{reference} does not name {catalog_id}"


@pytest.mark.parametrize("catalog_id", CATALOG_IDS)
def test_standardized_side_avoids_the_failure(catalog_id: str) -> None:
    reference = CATALOG[catalog_id].standardized
    marks = _marks(_test_function(reference))
    if "standardized" in marks:
        return
    # A shared spec test: it runs on both variants and must expect legacy to fail.
    assert "legacy" not in marks, f"{reference} runs on legacy only"
    expected = [catalog_id for mark in marks.get("fails_on_legacy", []) for catalog_id in mark.args]
    assert expected, f"{reference} runs on both variants but expects nothing of legacy"


def test_every_failure_a_test_expects_of_legacy_is_in_the_catalog() -> None:
    named: set[str] = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        module = importlib.import_module(f"tests.{path.stem}")
        tests = (
            value for name, value in vars(module).items() if name.startswith("test_") and inspect.isfunction(value)
        )
        for function in tests:
            for mark in _marks(function).get("fails_on_legacy", []):
                named.update(mark.args)
    assert named and named <= set(CATALOG_IDS), named - set(CATALOG_IDS)
