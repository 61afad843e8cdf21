"""`make audit-docs`: what the audit reports for each entry point a page names.

A page includes `docs/generated/audit/<tree>.<entry point>.txt`, `<tree>` being `legacy` or
`standardized`; this audits the tree as `make audit SRC=<tree>` does and writes the entry
point's part of the text report, with a summary line of its own. An entry point the audit
no longer finds fails here instead of leaving an old report on the page.

A page includes `docs/generated/audit/checks.<id>.md` for the checks that report a catalog
failure (`F1`) or enforce a rule (`R1`): one paragraph, read from the audit's own list of
checks, so that no page keeps a list of them by hand. An id no check knows is written as
"none", which the page explains.
"""

import re
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from background_task_audit import audit_paths
from background_task_audit.findings import AuditReport
from background_task_audit.formats.text import render_text
from background_task_audit.rules import CHECKS, RULES, Check
from playbook.app.settings import PROJECT_ROOT
from playbook.docs_tools.symbols import pages

DOCS = PROJECT_ROOT / "docs"
OUTPUT = DOCS / "generated" / "audit"
INCLUDE = re.compile(r"docs/generated/audit/(legacy|standardized)\.(\w+)\.txt")
CHECKS_INCLUDE = re.compile(r"docs/generated/audit/checks\.([FR]\d+)\.md")


class UnknownEntryPoint(LookupError):
    """A page includes the audit of an entry point the audit does not find, or the checks of an unknown id."""


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


def _forms(check: Check, catalog_id: str) -> list[str]:
    """The forms of `catalog_id` that `check` reports: F10 itself, or F10b."""
    return [reported for reported in check.catalog_ids if re.fullmatch(rf"{catalog_id}[a-z]?", reported)]


def _described(check: Check, *, catalog_id: str | None = None) -> str:
    severity = str(check.severity)
    if check.elsewhere is not None:
        severity += f"; {check.elsewhere} outside background work"
    qualifiers = [severity]
    if catalog_id is not None:
        qualifiers.insert(0, f"[{check.rule_id}](standard.md#{check.rule_id.lower()})")
        qualifiers += [f"as {form}" for form in _forms(check, catalog_id) if form != catalog_id]
    return f"[`{check.name}`](audit.md#the-checks) ({', '.join(qualifiers)})"


def checks_paragraph(identifier: str) -> str:
    """The audit checks that report catalog failure `identifier` (F1) or enforce rule `identifier` (R1)."""
    catalog_ids = {re.sub(r"[a-z]$", "", reported) for check in CHECKS for reported in check.catalog_ids}
    if identifier in catalog_ids:
        found = [_described(check, catalog_id=identifier) for check in CHECKS if _forms(check, identifier)]
    elif identifier in RULES:
        found = [_described(check) for check in CHECKS if check.rule_id == identifier]
    else:
        raise UnknownEntryPoint(f"no audit check reports or enforces {identifier}")
    return f"**Audit checks:** {', '.join(found) if found else 'none'}.\n"


def included_excerpts(docs: Path = DOCS, pattern: re.Pattern[str] = INCLUDE) -> set[Any]:
    """Every (tree, entry point), or with CHECKS_INCLUDE every id, a page under `docs` includes."""
    return {match for page in pages(docs) for match in pattern.findall(page.read_text())}


def main() -> int:
    try:
        excerpts = {(tree, name): excerpt(tree, name) for tree, name in sorted(included_excerpts())}
        checks = {
            identifier: checks_paragraph(identifier) for identifier in sorted(included_excerpts(pattern=CHECKS_INCLUDE))
        }
    except UnknownEntryPoint as exc:
        print(f"audit-docs: {exc}", file=sys.stderr)
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for stale in [*OUTPUT.glob("*.txt"), *OUTPUT.glob("checks.*.md")]:
        stale.unlink()
    for (tree, name), text in excerpts.items():
        (OUTPUT / f"{tree}.{name}.txt").write_text(text)
    for identifier, text in checks.items():
        (OUTPUT / f"checks.{identifier}.md").write_text(text)
    print(
        f"audit-docs: wrote {len(excerpts)} excerpts and {len(checks)} lists of checks to"
        f" {OUTPUT.relative_to(PROJECT_ROOT)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
