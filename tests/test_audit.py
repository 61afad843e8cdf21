"""The audit on this repository: every seeded legacy anti-pattern is found, the
standardized tree is clean, and the command line says so with its exit status.

`SEEDED` is the table to extend when a legacy service gains a failure: a file, a code
substring that identifies the line (not a line number, so edits do not break it), and the
rule (and catalog failure) the audit must report there.
"""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from background_task_audit import audit_paths
from background_task_audit.findings import AuditReport

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"^audit: (\d+) findings? \(\d+ errors?, \d+ warnings?, \d+ info\); \d+ entry points?; \d+ files? scanned$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Seeded:
    path: str
    code: str
    rule: str
    catalog_id: str | None = None

    def line(self) -> int:
        lines = (REPO / self.path).read_text(encoding="utf-8").splitlines()
        matches = [number for number, text in enumerate(lines, start=1) if self.code in text]
        if len(matches) != 1:
            pytest.fail(f"{self.path}: expected the code {self.code!r} on exactly one line, found {len(matches)}")
        return matches[0]


SEEDED = [
    # Batch: the ORM object and the request session handed to the task; attributes read
    # after the route's commit (F2); no terminal status on error (F11); JSON changed in place.
    Seeded("legacy/routes.py", "add_task(process_batch_with_own_session, batch, body.items, session)", "R1", "F2"),
    Seeded("legacy/routes.py", "add_task(process_batch_with_own_session, batch, body.items, session)", "R1", "F10b"),
    # The retry endpoint hands over the reopened job and the request session the same way.
    Seeded("legacy/routes.py", 'add_task(process_batch_with_own_session, job, params["items"], session)', "R1", "F2"),
    Seeded(
        "legacy/services/batch/batch_functions.py", 'logger.info("batch %s: processing %d items", batch.id', "R3", "F2"
    ),
    Seeded("legacy/services/batch/batch_functions.py", "async def process_batch_with_own_session", "R5", "F11"),
    Seeded("legacy/jobs.py", 'job.item_results[item] = "completed"', "R9"),
    Seeded("legacy/jobs.py", 'job.item_results[item] = f"failed: {error}"', "R9"),
    # Sitemap: a lazy relationship (F1), one session under gather (F9), an onupdate column
    # read after commit (F3), a connection held while crawling (F10).
    Seeded("legacy/services/sitemap/background_service.py", "for sitemap_file in job.sitemap_files)", "R3", "F1"),
    Seeded(
        "legacy/services/sitemap/background_service.py",
        "outcomes = await asyncio.gather(",
        "R4",
        "F9",
    ),
    Seeded("legacy/services/sitemap/background_service.py", "job.updated_at - job.start_time", "R3", "F3"),
    Seeded("legacy/services/sitemap/background_service.py", "sitemaps = await crawl_domain(domain)", "R2", "F10"),
    Seeded("legacy/services/sitemap/background_service.py", "async def process_domain_background", "R5", "F11"),
    # Places: one session held across every paginated upstream call (F10); the error
    # logged and nothing recorded (F11).
    Seeded("legacy/services/places/places_search_service.py", "page = await fetch_page(", "R2", "F10"),
    Seeded("legacy/services/places/places_search_service.py", "except Exception:", "R6", "F11"),
    Seeded(
        "legacy/services/places/places_search_service.py", "async def process_places_search_background", "R5", "F11"
    ),
    # E-mail scraper: the request session handed to a sync task (F4) that runs its own
    # event loop (F5) and swallows the error (F11).
    Seeded("legacy/routes.py", "add_task(scrape_emails_task, accepted.id, body.domain, session)", "R1", "F8"),
    Seeded("legacy/tasks/email_scraper.py", "pages = asyncio.run(_crawl(domain))", "R10", "F5"),
    Seeded("legacy/tasks/email_scraper.py", "except Exception:", "R6", "F11"),
    Seeded("legacy/tasks/email_scraper.py", "def scrape_emails_task", "R5", "F11"),
    # Job reaper: started at startup and forgotten (F11); objects read after commit and
    # close (F7).
    Seeded("legacy/lifespan.py", "asyncio.create_task(run_job_reaper(", "R5", "F11"),
    Seeded("legacy/tasks/job_reaper.py", 'logger.warning("reaped stuck job %s", job.id)', "R3", "F7"),
]

LEGACY_ENTRY_POINTS = {
    "process_batch_with_own_session",
    "process_domain_background",
    "process_batch_background",
    "process_places_search_background",
    "scrape_emails_task",
    "run_job_reaper",
}
# The standardized services run through the executor: the job function (in-process or on a
# procrastinate worker), the recovery sweep that resumes them, the engine's stalled-job retry.
STANDARDIZED_ENTRY_POINTS = {
    "run_stored_job",
    "run_job_part",
    "retry_stalled_jobs",
    "keep_alive",
    "run_job_reaper",
}


@pytest.fixture(scope="module")
def legacy_report() -> AuditReport:
    return audit_paths([REPO / "legacy"], base=REPO)


@pytest.mark.parametrize("seeded", SEEDED, ids=lambda s: f"{s.path}:{s.rule}:{s.code[:40]}")
def test_every_seeded_legacy_anti_pattern_is_found(seeded: Seeded, legacy_report: AuditReport) -> None:
    line = seeded.line()
    at_line = [f for f in legacy_report.findings if f.location.path == seeded.path and f.location.line == line]
    matching = [f for f in at_line if f.rule_id == seeded.rule]
    if seeded.catalog_id is not None:
        matching = [f for f in matching if seeded.catalog_id in f.check.catalog_ids]
    found = [f"{f.rule_id} {f.check.name} {f.check.catalog_ids}" for f in at_line]
    assert matching, f"{seeded.path}:{line}: expected {seeded.rule} {seeded.catalog_id or ''}, found {found}"


def test_legacy_entry_points_are_listed_and_resolved_across_modules(legacy_report: AuditReport) -> None:
    entries = {entry.name: entry for entry in legacy_report.entry_points}
    assert LEGACY_ENTRY_POINTS <= set(entries)
    batch = entries["process_batch_with_own_session"]
    assert batch.location is not None
    assert batch.location.path == "legacy/services/batch/batch_functions.py"
    # By the route that creates a batch and by the one that retries it.
    assert [location.path for location in batch.started_at] == ["legacy/routes.py", "legacy/routes.py"]
    assert entries["run_job_reaper"].kind == "asyncio.create_task in lifespan"


def test_standardized_has_no_findings() -> None:
    report = audit_paths([REPO / "standardized"], base=REPO)
    assert report.findings == []
    assert {entry.name for entry in report.entry_points} >= STANDARDIZED_ENTRY_POINTS


def _run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "playbook", "audit", *arguments]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_cli_on_legacy_exits_1_with_a_summary_line() -> None:
    result = _run_cli("legacy")
    assert result.returncode == 1, result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary is not None, result.stdout[-500:]
    assert int(summary.group(1)) >= len({(s.path, s.code, s.rule) for s in SEEDED})
    assert result.stdout.rstrip().splitlines()[-1] == summary.group(0)


def test_cli_on_standardized_exits_0() -> None:
    result = _run_cli("standardized")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit: 0 findings (0 errors, 0 warnings, 0 info)" in result.stdout


def test_playbook_audit_without_the_audit_package_says_how_to_install_it() -> None:
    # `pip install .` installs the playbook alone; the audit is `pip install ./audit`.
    hidden = "import sys; sys.modules['background_task_audit'] = None"
    run_audit = "from playbook.__main__ import main; sys.exit(main(['audit', 'legacy']))"
    result = subprocess.run(
        [sys.executable, "-c", f"{hidden}; {run_audit}"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr == "audit: the background_task_audit package is not installed; pip install ./audit\n"
