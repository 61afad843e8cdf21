"""What an audit produces: entry points, findings and notes about files, in one report."""

from collections import Counter
from dataclasses import dataclass, field

from background_task_audit.rules import Check, Severity


@dataclass(frozen=True, order=True)
class Location:
    """A place in a scanned file: path as shown to the user, 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class EntryPoint:
    """A function that runs as background work, and the places that start it."""

    name: str
    kind: str
    location: Location
    started_at: tuple[Location, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One problem at one place. `in_background`: the code runs as background work (a task
    reaches it), which is what makes most checks errors rather than warnings.
    """

    location: Location
    check: Check
    message: str
    entry_point: str | None = None
    severity: Severity = Severity.error
    in_background: bool = True

    @property
    def rule_id(self) -> str:
        return self.check.rule_id

    @property
    def sort_key(self) -> tuple[Location, str, str]:
        return (self.location, self.rule_id, self.check.name)


@dataclass(frozen=True)
class FileNote:
    """Something the audit could not read or follow (a file, a task's target); reported, and
    fatal only with `--fail-on-unread` when the file itself could not be read or parsed (`unread`).
    """

    path: str
    message: str
    line: int | None = None
    unread: bool = False


@dataclass
class AuditReport:
    files_scanned: int
    entry_points: list[EntryPoint] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[FileNote] = field(default_factory=list)

    def severity_counts(self) -> dict[Severity, int]:
        counts = Counter(finding.severity for finding in self.findings)
        return {severity: counts[severity] for severity in Severity}

    def fails(self, *, threshold: Severity | None) -> bool:
        """Whether any finding is at or above `threshold` (None: never fail)."""
        if threshold is None:
            return False
        return any(finding.severity.rank >= threshold.rank for finding in self.findings)

    @property
    def unread_files(self) -> list[str]:
        """The files that could not be read or parsed: nothing in them was analysed."""
        return list(dict.fromkeys(note.path for note in self.notes if note.unread))
