"""The audit's command line and report formats, on small sources written for each test:
text grouped by entry point, JSON and SARIF shapes, exit statuses, unparseable files,
suppressions and the directory walk.
"""

import io
import json
import textwrap
from pathlib import Path

import pytest

from background_task_audit.__main__ import main
from background_task_audit.cli import ProgressLine
from background_task_audit.rules import CHECKS, RULES

REPO = Path(__file__).resolve().parents[2]

HANDS_OVER_SESSION = """
    from fastapi import BackgroundTasks, Depends
    from sqlalchemy.ext.asyncio import AsyncSession


    async def get_session():
        async with AsyncSession(None) as session:
            yield session


    async def work(job_id: int, session: AsyncSession) -> None:
        await session.commit()


    async def start(
        job_id: int, background_tasks: BackgroundTasks, session: AsyncSession = Depends(get_session)
    ) -> None:
        background_tasks.add_task(work, job_id, session){comment}
"""
DROPS_TASK = """
    import asyncio


    async def notify(job_id: int) -> None:
        print(job_id)


    async def start_notify(job_id: int) -> None:
        asyncio.create_task(notify(job_id))
"""
CLEAN = """
    async def work(job_id: int) -> None:
        print(job_id)


    async def start(job_id: int, background_tasks) -> None:
        background_tasks.add_task(work, job_id)
"""


def write(folder: Path, name: str, source: str, **fields: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source.format(**fields) if fields else source).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def audit(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    status = main(list(arguments))
    return status, capsys.readouterr().out


# Exit statuses


def test_clean_code_exits_0(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", CLEAN)
    status, output = audit(capsys, ".")
    assert status == 0
    assert output.endswith("audit: 0 findings (0 errors, 0 warnings, 0 info); 1 entry point; 1 file scanned\n")


def test_an_error_exits_1_unless_fail_on_never(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="")
    assert audit(capsys, ".")[0] == 1
    assert audit(capsys, ".", "--fail-on", "never")[0] == 0


@pytest.mark.parametrize(("fail_on", "status"), [("error", 0), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on_threshold_with_only_a_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str], fail_on: str, status: int
) -> None:
    write(workdir, "tasks.py", DROPS_TASK)
    assert audit(capsys, ".", "--fail-on", fail_on)[0] == status


@pytest.mark.parametrize("arguments", [["missing.py"], [".", "--format", "xml"], [".", "--fail-on", "sometimes"], []])
def test_usage_errors_exit_2(workdir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_unwritable_output_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", CLEAN)
    assert main([".", "--output", "no/such/folder/report.json"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_output_file_gets_the_report_and_stdout_the_summary(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", DROPS_TASK)
    status, output = audit(capsys, ".", "--format", "json", "--output", "report.json")
    assert status == 0
    assert output.startswith("audit: 1 finding (0 errors, 1 warning, 0 info)")
    assert json.loads((workdir / "report.json").read_text())["summary"]["warning"] == 1


# Files that cannot be read, and the walk


def test_a_file_that_does_not_parse_is_reported_not_fatal(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "broken.py", "def broken(session:\n")
    write(workdir, "tasks.py", DROPS_TASK)
    status, text = audit(capsys, ".")
    assert status == 0
    assert "== notes\nbroken.py: does not parse" in text
    assert text.rstrip().endswith("2 files scanned; 1 note")
    _, as_json = audit(capsys, ".", "--format", "json")
    report = json.loads(as_json)
    assert report["notes"][0]["path"] == "broken.py"
    assert report["summary"]["notes"] == 1
    assert len(report["findings"]) == 1
    _, as_sarif = audit(capsys, ".", "--format", "sarif")
    notifications = json.loads(as_sarif)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "broken.py: does not parse" in notifications[0]["message"]["text"]


def test_a_function_nested_too_deeply_is_noted_not_fatal(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A generated-looking expression: parses fine, but is deeper than the analysis recurses.
    deep = " + ".join(["job_id"] * 2000)
    write(workdir, "generated.py", CLEAN.replace("print(job_id)", f"print({deep})"))
    status, output = audit(capsys, ".")
    assert status == 0
    assert "== notes\ngenerated.py: `work` is nested too deeply to analyse" in output


def test_walk_skips_virtualenvs_caches_and_hidden_folders(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "app/tasks.py", CLEAN)
    for skipped in (".venv/lib/site.py", ".git/hooks/hook.py", "app/__pycache__/tasks.py", "node_modules/x/y.py"):
        write(workdir, skipped, HANDS_OVER_SESSION, comment="")
    status, output = audit(capsys, ".")
    assert status == 0
    assert "1 file scanned" in output


def test_a_folder_behind_a_symbolic_link_is_shown_by_the_name_it_was_given(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path_factory.mktemp("checkout")
    write(elsewhere, "tasks.py", HANDS_OVER_SESSION, comment="")
    (workdir / "service").symlink_to(elsewhere, target_is_directory=True)
    _, output = audit(capsys, "service", "--format", "json")
    [finding] = json.loads(output)["findings"]
    assert finding["path"] == "service/tasks.py"


# Suppressions


@pytest.mark.parametrize(
    "comment",
    [
        "  # playbook: ignore[R1] the session is only read after the response",
        "  # playbook: ignore[R2, R1] both are known",
    ],
)
def test_a_suppression_with_a_reason_silences_its_rule(
    workdir: Path, capsys: pytest.CaptureFixture[str], comment: str
) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment=comment)
    status, output = audit(capsys, ".")
    assert status == 0
    assert "R1" not in output and "A1" not in output


def test_a_suppression_on_the_line_above_counts(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    comment = "        # playbook: ignore[R1] reviewed: see the task's docstring\n"
    source = HANDS_OVER_SESSION.replace(
        "        background_tasks.add_task", comment + "        background_tasks.add_task"
    )
    write(workdir, "tasks.py", source, comment="")
    assert audit(capsys, ".")[0] == 0


def test_a_suppression_without_a_reason_is_reported_and_silences_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="  # playbook: ignore[R1]")
    status, output = audit(capsys, ".", "--format", "json")
    rules = {finding["rule"]: finding for finding in json.loads(output)["findings"]}
    assert status == 1
    assert set(rules) == {"R1", "A1"}
    assert rules["A1"]["severity"] == "warning"
    assert rules["A1"]["check"] == "suppression-without-reason"


def test_a_suppression_of_another_rule_does_not_apply(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="  # playbook: ignore[R2] not this one")
    assert audit(capsys, ".")[0] == 1


# Formats


def test_text_is_grouped_by_entry_point_and_fits_80_columns(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="")
    write(workdir, "notify.py", DROPS_TASK)
    _, output = audit(capsys, ".")
    sections = {section.splitlines()[0]: section for section in output.split("\n\n")}
    work = sections["== work (BackgroundTasks.add_task)"]
    notify = sections["== notify (asyncio.create_task)"]
    assert "started at tasks.py:17:5" in work and "error R1 F2,F7,F8,F10b" in work
    assert "warning R5 F11" in notify and "R1" not in notify
    assert all(len(line) <= 80 for line in output.splitlines())


def test_json_shape(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="")
    _, output = audit(capsys, ".", "--format", "json")
    report = json.loads(output)
    assert set(report) == {"summary", "entry_points", "findings", "notes"}
    assert report["summary"] == {
        "files_scanned": 1,
        "entry_points": 1,
        "findings": 1,
        "error": 1,
        "warning": 0,
        "info": 0,
        "notes": 0,
    }
    assert report["entry_points"] == [
        {
            "name": "work",
            "kind": "BackgroundTasks.add_task",
            "location": {"path": "tasks.py", "line": 10, "column": 1},
            "started_at": [{"path": "tasks.py", "line": 17, "column": 5}],
        }
    ]
    finding = report["findings"][0]
    assert finding == {
        "path": "tasks.py",
        "line": 17,
        "column": 5,
        "rule": "R1",
        "check": "request-session-handed-to-task",
        "catalog_ids": ["F2", "F7", "F8", "F10b"],
        "severity": "error",
        "message": finding["message"],
        "fix": finding["fix"],
        "entry_point": "work",
        "in_background": True,
        "help_uri": "docs/standard.md#r1",
    }
    assert "`session`" in finding["message"] and finding["fix"]


def test_sarif_has_the_required_fields(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="")
    write(workdir, "notify.py", DROPS_TASK)
    _, output = audit(capsys, ".", "--format", "sarif")
    sarif = json.loads(output)
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    assert sarif["version"] == "2.1.0"
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["name"] == "background-task-audit"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == list(dict.fromkeys(check.rule_id for check in CHECKS))
    for rule in driver["rules"]:
        assert rule["name"] and rule["shortDescription"]["text"]
        assert rule["helpUri"] == RULES[rule["id"]].help_uri
    results = sarif["runs"][0]["results"]
    assert {result["ruleId"] for result in results} == {"R1", "R5"}
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        assert "Fix:" in result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] in {"tasks.py", "notify.py"}
        assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1


def test_sarif_help_uris_can_be_made_absolute(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", CLEAN)
    base = "https://example.test/playbook/blob/main/"
    _, output = audit(capsys, ".", "--format", "sarif", "--help-uri-base", base)
    rules = json.loads(output)["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"] == f"{base}docs/standard.md#r1"


# The docs page stays in step with the checks


def test_docs_describe_every_check_and_link_existing_anchors() -> None:
    audit_page = (REPO / "docs" / "audit.md").read_text(encoding="utf-8")
    standard_page = (REPO / "docs" / "standard.md").read_text(encoding="utf-8")
    assert all(f"`{check.name}`" in audit_page for check in CHECKS)
    for rule in RULES.values():
        page, _, anchor = rule.help_uri.removeprefix("docs/").partition("#")
        text = audit_page if page == "audit.md" else standard_page
        assert f"#{anchor} }}" in text or f"## {anchor.replace('-', ' ').capitalize()}" in text, rule.help_uri


# Configuration, tests, progress and unresolved tasks

SESSION_OF_ITS_OWN_TYPE = """
    from fastapi import BackgroundTasks
    from myorm import TenantSession


    async def work(job_id: int, session: TenantSession) -> None:
        await session.commit()


    async def start(job_id: int, background_tasks: BackgroundTasks, session: TenantSession) -> None:
        background_tasks.add_task(work, job_id, session)
"""


def pyproject(folder: Path, table: str) -> None:
    write(folder, "pyproject.toml", f"[tool.background-task-audit]\n{textwrap.dedent(table)}")


def test_pyproject_select_and_ignore_filter_rules(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="")
    write(workdir, "notify.py", DROPS_TASK)
    pyproject(workdir, 'ignore = ["R1"]\n')
    _, output = audit(capsys, ".", "--format", "json")
    assert {finding["rule"] for finding in json.loads(output)["findings"]} == {"R5"}
    pyproject(workdir, 'select = ["request-session-handed-to-task"]\n')
    _, output = audit(capsys, ".", "--format", "json")
    assert {finding["rule"] for finding in json.loads(output)["findings"]} == {"R1"}
    _, output = audit(capsys, ".", "--format", "json", "--select", "R5")
    assert {finding["rule"] for finding in json.loads(output)["findings"]} == {"R5"}


def test_pyproject_exclude_and_session_types(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "app/tasks.py", SESSION_OF_ITS_OWN_TYPE)
    write(workdir, "app/generated/tasks.py", HANDS_OVER_SESSION, comment="")
    assert audit(capsys, "app")[0] == 1  # the generated module's request session
    pyproject(workdir, 'exclude = ["generated"]\n')
    assert audit(capsys, "app")[0] == 0  # TenantSession is no session the audit knows
    pyproject(workdir, 'exclude = ["generated"]\nsession-types = ["myorm.TenantSession"]\n')
    status, output = audit(capsys, "app", "--format", "json")
    assert status == 1
    assert [(f["path"], f["rule"]) for f in json.loads(output)["findings"]] == [("app/tasks.py", "R1")]


def test_a_malformed_configuration_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "tasks.py", CLEAN)
    pyproject(workdir, 'select = "R1"\n')
    assert main(["."]) == 2
    assert "select must be a list of strings" in capsys.readouterr().err


def test_tests_are_left_out_unless_asked_for(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir, "app/tasks.py", CLEAN)
    write(workdir, "tests/test_tasks.py", HANDS_OVER_SESSION, comment="")
    write(workdir, "tests/helpers.py", HANDS_OVER_SESSION, comment="")
    write(workdir, "app/conftest.py", HANDS_OVER_SESSION, comment="")
    status, output = audit(capsys, ".")
    assert (status, "1 file scanned" in output) == (0, True)
    status, output = audit(capsys, ".", "--include-tests")
    assert (status, "4 files scanned" in output) == (1, True)
    # A test file named on the command line is scanned.
    assert audit(capsys, "tests/test_tasks.py")[0] == 1


def test_noqa_with_the_rule_suppresses_it_and_other_codes_do_not(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="  # noqa: E501, R1")
    assert audit(capsys, ".")[0] == 0
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="  # noqa: E501")
    assert audit(capsys, ".")[0] == 1
    write(workdir, "tasks.py", HANDS_OVER_SESSION, comment="  # noqa")
    assert audit(capsys, ".")[0] == 1


def test_a_task_the_audit_cannot_follow_is_a_note_not_an_entry_point(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        workdir,
        "tasks.py",
        """
        async def start(job_id: int, background_tasks, callback) -> None:
            background_tasks.add_task(callback, job_id)
        """,
    )
    _, output = audit(capsys, ".", "--format", "json")
    report = json.loads(output)
    assert report["entry_points"] == []
    assert report["notes"] == [
        {
            "path": "tasks.py",
            "line": 2,
            "message": "the task `callback` started here (BackgroundTasks.add_task) is not analysed: "
            "`callback` is a parameter: the function is chosen by the caller",
        }
    ]


def test_a_long_scan_reports_progress_on_stderr() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, delay=0.0)
    progress("parsed", 50, 100)
    progress("parsed", 100, 100)
    assert stream.getvalue().splitlines()[-1].startswith("audit: parsed 100/100 (")
