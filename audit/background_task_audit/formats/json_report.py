"""The JSON report: every entry point and finding, with the summary counts."""

import json

from background_task_audit.findings import AuditReport, Finding, Location


def render_json(report: AuditReport, *, help_uri_base: str = "") -> str:
    counts = report.severity_counts()
    document = {
        "summary": {
            "files_scanned": report.files_scanned,
            "entry_points": len(report.entry_points),
            "findings": len(report.findings),
            **{severity.value: count for severity, count in counts.items()},
            "notes": len(report.notes),
        },
        "entry_points": [
            {
                "name": entry.name,
                "kind": entry.kind,
                "location": _location(entry.location),
                "started_at": [_location(location) for location in entry.started_at],
            }
            for entry in report.entry_points
        ],
        "findings": [_finding(finding, help_uri_base=help_uri_base) for finding in report.findings],
        "notes": [{"path": note.path, "line": note.line, "message": note.message} for note in report.notes],
    }
    return json.dumps(document, indent=2) + "\n"


def _location(location: Location) -> dict[str, object]:
    return {"path": location.path, "line": location.line, "column": location.column}


def _finding(finding: Finding, *, help_uri_base: str) -> dict[str, object]:
    return {
        **_location(finding.location),
        "rule": finding.rule_id,
        "check": finding.check.name,
        "catalog_ids": list(finding.check.catalog_ids),
        "severity": finding.severity.value,
        "message": finding.message,
        "fix": finding.check.fix,
        "entry_point": finding.entry_point,
        "in_background": finding.in_background,
        "help_uri": finding.check.rule.help_uri_from(help_uri_base),
    }
