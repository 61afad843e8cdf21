"""The SARIF 2.1.0 report, for GitHub code scanning and other SARIF viewers.

One run; the rules are R1..R10 (those with a check) and A1, each pointing at its docs
section (relative to the repository root unless `help_uri_base` makes it absolute, which
GitHub code scanning prefers); locations are relative to the folder the audit ran in.
"""

import json
from pathlib import PurePosixPath

from background_task_audit.findings import AuditReport, Finding, Location
from background_task_audit.rules import CHECKS, RULES, Rule, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}


def render_sarif(report: AuditReport, *, help_uri_base: str = "") -> str:
    rules = [RULES[rule_id] for rule_id in dict.fromkeys(check.rule_id for check in CHECKS)]
    index = {rule.id: position for position, rule in enumerate(rules)}
    run = {
        "tool": {"driver": {"name": "background-task-audit", "rules": [_rule(rule, help_uri_base) for rule in rules]}},
        "results": [_result(finding, rule_index=index[finding.rule_id]) for finding in report.findings],
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {"level": "warning", "message": {"text": f"{note.path}: {note.message}"}} for note in report.notes
                ],
            }
        ],
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _rule(rule: Rule, help_uri_base: str) -> dict[str, object]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "helpUri": rule.help_uri_from(help_uri_base),
    }


def _result(finding: Finding, *, rule_index: int) -> dict[str, object]:
    catalog = f" [{', '.join(finding.check.catalog_ids)}]" if finding.check.catalog_ids else ""
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message}{catalog}. Fix: {finding.check.fix}"},
        "locations": [_location(finding.location)],
        "properties": {
            "check": finding.check.name,
            "catalogIds": list(finding.check.catalog_ids),
            "entryPoint": finding.entry_point,
        },
    }


def _location(location: Location) -> dict[str, object]:
    path = PurePosixPath(location.path)
    uri = path.as_uri() if path.is_absolute() else location.path
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri},
            "region": {"startLine": location.line, "startColumn": location.column},
        }
    }
