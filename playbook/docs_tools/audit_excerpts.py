"""`make audit-docs`: what the audit reports for each entry point a page names.

A page includes `docs/generated/audit/<tree>.<entry point>.txt`, `<tree>` being `legacy` or
`standardized`; this audits the tree as `make audit SRC=<tree>` does and writes the entry
point's part of the text report, with a summary line of its own. An entry point the audit
no longer finds fails here instead of leaving an old report on the page.
"""

import re
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

from background_task_audit import audit_paths
from background_task_audit.findings import AuditReport
from background_task_audit.formats.text import render_text
from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools.symbols import pages

DOCS = PROJECT_ROOT / "docs"
OUTPUT = DOCS / "generated" / "audit"
INCLUDE = re.compile(r"docs/generated/audit/(legacy|standardized)\.(\w+)\.txt")


class UnknownEntryPoint(LookupError):
    """A page includes the audit of an entry point the audit does not find."""


@cache
def audit_of(tree: str) -> AuditReport:
    return audit_paths([PROJECT_ROOT / tree], base=PROJECT_ROOT)


def excerpt(tree: str, entry_point: str) -> str:
    """The text report of `tree`'s audit, narrowed to one entry point and its findings."""
    report = audit_of(tree)
    entries = [entry for entry in report.entry_points if entry.name == entry_point]
    if not entries:
        raise UnknownEntryPoint(f"the audit of {tree}/ finds no entry point {entry_point}")
    findings = [finding for finding in report.findings if finding.entry_point == entry_point]
    return render_text(replace(report, entry_points=entries, findings=findings, notes=[]))


def included_excerpts(docs: Path = DOCS) -> set[tuple[str, str]]:
    """Every (tree, entry point) a page under `docs` includes."""
    return {match for page in pages(docs) for match in INCLUDE.findall(page.read_text())}


def main() -> int:
    try:
        excerpts = {(tree, name): excerpt(tree, name) for tree, name in sorted(included_excerpts())}
    except UnknownEntryPoint as exc:
        print(f"audit-docs: {exc}", file=sys.stderr)
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for stale in OUTPUT.glob("*.txt"):
        stale.unlink()
    for (tree, name), text in excerpts.items():
        (OUTPUT / f"{tree}.{name}.txt").write_text(text)
    print(f"audit-docs: wrote {len(excerpts)} excerpts to {OUTPUT.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
