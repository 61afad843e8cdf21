"""Inline suppressions: `# playbook: ignore[R2] reason` on the flagged line or the line above.

A suppression names one or more rule ids and must say why. One without a reason
suppresses nothing and is reported itself (A1), so an unexplained silence cannot pass review.
"""

import io
import re
import tokenize
from dataclasses import dataclass

from background_task_audit.findings import Finding, Location
from background_task_audit.rules import SUPPRESSION_WITHOUT_REASON
from background_task_audit.sources import SourceModule

SUPPRESSION = re.compile(r"#\s*playbook:\s*ignore\[(?P<rules>[^\]]*)\](?P<reason>.*)$")


@dataclass(frozen=True)
class Suppression:
    location: Location
    rule_ids: frozenset[str]
    reason: str

    def covers(self, finding: Finding) -> bool:
        same_file = finding.location.path == self.location.path
        near = finding.location.line in {self.location.line, self.location.line + 1}
        return bool(self.reason) and same_file and near and finding.rule_id in self.rule_ids


def suppressions_in(module: SourceModule) -> list[Suppression]:
    found = []
    if "playbook:" not in module.text:
        return found
    for token in tokenize.generate_tokens(io.StringIO(module.text).readline):
        match = SUPPRESSION.search(token.string) if token.type == tokenize.COMMENT else None
        if match:
            rule_ids = frozenset(part.strip().upper() for part in match["rules"].split(",") if part.strip())
            location = Location(module.display_path, token.start[0], token.start[1] + 1)
            found.append(Suppression(location=location, rule_ids=rule_ids, reason=match["reason"].strip()))
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
        )
        for suppression in suppressions
        if not suppression.reason
    ]
    return kept + unexplained
