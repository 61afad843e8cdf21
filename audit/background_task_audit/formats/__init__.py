"""Report formats: text for people, JSON for scripts, SARIF for code-scanning services."""

from typing import Protocol

from background_task_audit.findings import AuditReport
from background_task_audit.formats.json_report import render_json
from background_task_audit.formats.sarif import render_sarif
from background_task_audit.formats.text import render_text


class Renderer(Protocol):
    def __call__(self, report: AuditReport, *, help_uri_base: str = "") -> str: ...


FORMATS: dict[str, Renderer] = {"text": render_text, "json": render_json, "sarif": render_sarif}
