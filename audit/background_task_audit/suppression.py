"""Inline suppressions, in two spellings.

`# playbook: ignore[R2] reason` on the flagged line or the line above names one or more
rule ids and must say why: one without a reason suppresses nothing and is reported
itself (A1), so an unexplained silence cannot pass review.

`# noqa: R2` (ruff's spelling, codes separated by commas) on the flagged line suppresses
the audit rules it names; other tools' codes in the same comment are left to them, and a
bare `# noqa` suppresses nothing here.
"""

import io
import re
import tokenize
from dataclasses import dataclass

from background_task_audit.findings import Finding, Location
from background_task_audit.rules import RULES, SUPPRESSION_WITHOUT_REASON
from background_task_audit.sources import SourceModule

SUPPRESSION = re.compile(r"#\s*playbook:\s*ignore\[(?P<rules>[^\]]*)\](?P<reason>.*)$")
NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)", re.IGNORECASE)


@dataclass(frozen=True)
class Suppression:
    location: Location
    rule_ids: frozenset[str]
    reason: str
    same_line_only: bool = False

    def covers(self, finding: Finding) -> bool:
        same_file = finding.location.path == self.location.path
        lines = {self.location.line} if self.same_line_only else {self.location.line, self.location.line + 1}
        return bool(self.reason) and same_file and finding.location.line in lines and finding.rule_id in self.rule_ids


def suppressions_in(module: SourceModule) -> list[Suppression]:
    found: list[Suppression] = []
    if "playbook:" not in module.text and "noqa" not in module.text.lower():
        return found
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(module.text).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        location = Location(module.display_path, token.start[0], token.start[1] + 1)
        match = SUPPRESSION.search(token.string)
        if match:
            rule_ids = frozenset(part.strip().upper() for part in match["rules"].split(",") if part.strip())
            found.append(Suppression(location=location, rule_ids=rule_ids, reason=match["reason"].strip()))
        noqa = NOQA.search(token.string)
        if noqa:
            codes = {code.strip().upper() for code in noqa["codes"].split(",")}
            ours = frozenset(codes & set(RULES))
            if ours:
                found.append(Suppression(location=location, rule_ids=ours, reason="noqa", same_line_only=True))
    return found


def apply_suppressions(findings: list[Finding], modules: list[SourceModule]) -> list[Finding]:
    """`findings` without the suppressed ones, plus one A1 finding per suppression without a reason."""
    suppressions = [suppression for module in modules for suppression in suppressions_in(module)]
    kept = [finding for finding in findings if not any(s.covers(finding) for s in suppressions)]
    unexplained = [
        Finding(
            location=suppression.location,
            check=SUPPRESSION_WITHOUT_REASON,
            message=f"suppression of {', '.join(sorted(suppression.rule_ids))} gives no reason",
            severity=SUPPRESSION_WITHOUT_REASON.severity,
        )
        for suppression in suppressions
        if not suppression.reason
    ]
    return kept + unexplained
