"""The text report: findings grouped by entry point, wrapped for an 80-column terminal,
ending with one summary line.
"""

import textwrap

from background_task_audit.findings import AuditReport, EntryPoint, FileNote, Finding
from background_task_audit.rules import Severity

WIDTH = 80
INDENT = "    "


def render_text(report: AuditReport, *, help_uri_base: str = "") -> str:
    sections = [_entry_section(entry, report, help_uri_base=help_uri_base) for entry in report.entry_points]
    unattached = [finding for finding in report.findings if finding.entry_point is None]
    elsewhere = [finding for finding in unattached if not finding.in_background]
    modules = [finding for finding in unattached if finding.in_background]
    for title, findings in (("outside background work", elsewhere), ("not tied to an entry point", modules)):
        if findings:
            sections.append("\n".join([f"== {title}", *(_finding(f, help_uri_base=help_uri_base) for f in findings)]))
    if report.notes:
        sections.append("\n".join(["== notes", *(_note(note) for note in report.notes)]))
    return "\n\n".join([*sections, summary_line(report)]) + "\n"


def _note(note: FileNote) -> str:
    place = f"{note.path}:{note.line}" if note.line is not None else note.path
    return "\n".join(textwrap.wrap(f"{place}: {note.message}", WIDTH, subsequent_indent=INDENT, break_on_hyphens=False))


def _entry_section(entry: EntryPoint, report: AuditReport, *, help_uri_base: str) -> str:
    findings = [finding for finding in report.findings if finding.entry_point == entry.name]
    lines = [f"== {entry.name} ({entry.kind})", f"{INDENT}defined at {entry.location}"]
    lines += [f"{INDENT}started at {location}" for location in entry.started_at]
    lines += [_finding(finding, help_uri_base=help_uri_base) for finding in findings] or [f"{INDENT}no findings"]
    return "\n".join(lines)


def _finding(finding: Finding, *, help_uri_base: str) -> str:
    catalog = ",".join(finding.check.catalog_ids)
    heading = f"{finding.location}: {finding.severity} {finding.rule_id}" + (f" {catalog}" if catalog else "")
    body = textwrap.wrap(finding.message, WIDTH, initial_indent=INDENT, subsequent_indent=INDENT)
    advice = f"fix: {finding.check.fix} See {finding.check.rule.help_uri_from(help_uri_base)}"
    fix = textwrap.wrap(advice, WIDTH, initial_indent=INDENT, subsequent_indent=INDENT + "  ", break_on_hyphens=False)
    return "\n".join([heading, *body, *fix])


def summary_line(report: AuditReport) -> str:
    counts = report.severity_counts()
    severities = ", ".join(_counted(counts[severity], severity.value) for severity in Severity)
    parts = [
        f"audit: {_counted(len(report.findings), 'finding')} ({severities})",
        _counted(len(report.entry_points), "entry point"),
        f"{_counted(report.files_scanned, 'file')} scanned",
    ]
    if report.notes:
        parts.append(_counted(len(report.notes), "note"))
    return "; ".join(parts)


def _counted(count: int, noun: str) -> str:
    plural = noun if count == 1 or noun == "info" else f"{noun}s"
    return f"{count} {plural}"
