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
from background_task_audit.__main__ import main as audit_main
from background_task_audit.config import Config
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


# Small projects written for each test: how files are read, how names resolve, and the exit status.

SESSION_MAKER = """\
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://localhost/app")
Maker = async_sessionmaker(engine)
"""
# `{header}` is the first line's comment, `{import_}` imports the session maker.
HOLDS_SESSION_ACROSS_HTTP = """\
# {header}
# Refreshes the café's listing in the background.
import httpx
from sqlalchemy import text

{import_}


async def refresh(url: str) -> None:
    async with Maker() as session:
        await session.execute(text("select 'café'"))
        response = await httpx.AsyncClient().get(url)
        await session.execute(text("select :code"), {{"code": response.status_code}})
        await session.commit()


async def start(url: str, background_tasks) -> None:
    background_tasks.add_task(refresh, url)
"""
HTTP_CALL = "response = await httpx.AsyncClient().get(url)"


def _project(folder: Path, tasks: bytes) -> Path:
    folder.mkdir()
    (folder / "db.py").write_text(SESSION_MAKER, encoding="utf-8")
    (folder / "tasks.py").write_bytes(tasks)
    return folder


def _tasks_source(*, header: str = "Background refresh.", import_: str = "from db import Maker") -> str:
    return HOLDS_SESSION_ACROSS_HTTP.format(header=header, import_=import_)


def _r2_findings(report: AuditReport) -> list[tuple[str, int, int, str, str, str | None]]:
    return [
        (f.location.path, f.location.line, f.location.column, f.severity.value, f.message, f.entry_point)
        for f in report.findings
        if f.rule_id == "R2"
    ]


def _audit_project(folder: Path) -> AuditReport:
    return audit_paths([folder], base=folder.parent, config=Config())


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(b"\xef\xbb\xbf" + _tasks_source().encode("utf-8"), id="utf-8 with a BOM"),
        pytest.param(_tasks_source(header="-*- coding: latin-1 -*-").encode("latin-1"), id="latin-1 by PEP 263"),
    ],
)
def test_a_bom_or_a_declared_encoding_reads_like_the_plain_file(tmp_path: Path, encoded: bytes) -> None:
    plain = _audit_project(_project(tmp_path / "plain", _tasks_source().encode("utf-8")))
    line = _tasks_source().splitlines().index(f"        {HTTP_CALL}") + 1
    assert _r2_findings(plain) == [("plain/tasks.py", line, 20, "error", _r2_findings(plain)[0][4], "refresh")]
    assert plain.notes == []
    encoded_report = _audit_project(_project(tmp_path / "encoded", encoded))
    assert encoded_report.notes == []
    expected = [(path.replace("plain/", "encoded/"), *rest) for path, *rest in _r2_findings(plain)]
    assert _r2_findings(encoded_report) == expected


@pytest.mark.parametrize("import_", ["from db import Maker", "from db import *"])
def test_a_star_import_resolves_like_the_explicit_import(tmp_path: Path, import_: str) -> None:
    report = _audit_project(_project(tmp_path / "app", _tasks_source(import_=import_).encode("utf-8")))
    line = _tasks_source().splitlines().index(f"        {HTTP_CALL}") + 1
    assert [(path, found_line, severity) for path, found_line, _, severity, *_ in _r2_findings(report)] == [
        ("app/tasks.py", line, "error")
    ]


@pytest.mark.parametrize(
    ("db", "uses", "found"),
    [
        pytest.param(SESSION_MAKER + '__all__ = ["Maker"]\n', "Maker", 1, id="listed in __all__"),
        pytest.param(SESSION_MAKER + '__all__ = ["engine"]\n', "Maker", 0, id="left out of __all__"),
        pytest.param(SESSION_MAKER.replace("Maker", "_Maker"), "_Maker", 0, id="private name"),
    ],
)
def test_a_star_import_brings_what_python_would_and_skips_modules_the_audit_has_not(
    tmp_path: Path, db: str, uses: str, found: int
) -> None:
    # The library's star import comes last but is not followed: what it exports is unknown.
    source = _tasks_source(import_="from db import *\nfrom sqlalchemy.orm import *").replace("Maker()", f"{uses}()")
    folder = _project(tmp_path / "app", source.encode("utf-8"))
    (folder / "db.py").write_text(db, encoding="utf-8")
    assert len(_r2_findings(_audit_project(folder))) == found


def test_fail_on_unread_makes_an_unread_or_unparsed_file_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "clean.py").write_text("async def work(session) -> None:\n    print(session)\n", encoding="utf-8")

    def status(*arguments: str) -> int:
        code = audit_main([str(folder), "--quiet", *arguments])
        capsys.readouterr()
        return code

    assert status("--fail-on-unread") == 0
    (folder / "broken.py").write_text("def broken(session:\n", encoding="utf-8")
    assert status() == 0
    assert status("--fail-on-unread") == 1
    assert status("--fail-on-unread", "--fail-on", "never") == 1
    (folder / "broken.py").unlink()
    (folder / "undecodable.py").write_bytes(b"session = '\xe9'\n")
    assert status() == 0
    assert status("--fail-on-unread") == 1
    report = _audit_project(folder)
    assert [(note.path, note.message.split(":")[0]) for note in report.notes] == [
        ("app/undecodable.py", "cannot be read")
    ]


def test_fail_on_unread_ignores_notes_about_tasks_the_audit_cannot_follow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "tasks.py").write_text(
        "async def start(job_id: int, background_tasks, callback) -> None:\n"
        "    background_tasks.add_task(callback, job_id)\n",
        encoding="utf-8",
    )
    assert len(_audit_project(folder).notes) == 1
    assert audit_main([str(folder), "--quiet", "--fail-on-unread"]) == 0
    assert "--fail-on-unread" in _run_cli("--help").stdout
