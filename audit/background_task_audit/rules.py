"""The rules the audit cites and the checks that enforce them.

A rule is one of the standard's R1..R10 (plus A1, the audit's own rule about
suppressions); a check is one static reading of a rule, with the catalog failures it
predicts, its severity and a one-line fix.
"""

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    summary: str
    help_uri: str  # relative to the repository root

    def help_uri_from(self, base: str) -> str:
        """The help URI made absolute against `base` (a docs site or repository URL), if given."""
        return urljoin(base, self.help_uri) if base else self.help_uri


def _standard_rule(number: int, name: str, summary: str) -> Rule:
    return Rule(id=f"R{number}", name=name, summary=summary, help_uri=f"docs/standard.md#r{number}")


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        _standard_rule(
            1, "one-session-per-operation", "A task receives IDs and plain data, never a session or ORM object."
        ),
        _standard_rule(2, "no-session-across-io", "No session or connection is held across network I/O or a sleep."),
        _standard_rule(3, "no-implicit-io", "No implicit I/O: expire_on_commit=False, eager loading of what is read."),
        _standard_rule(4, "no-shared-session-concurrency", "Never share a session between concurrent tasks."),
        _standard_rule(5, "terminal-status", "Every job reaches a terminal status, even on error or cancellation."),
        _standard_rule(
            6, "nothing-swallowed", "Every exception is logged with the job id and recorded on the job row."
        ),
        _standard_rule(7, "idempotent-jobs", "Jobs are idempotent and recoverable."),
        _standard_rule(
            8, "engines-belong-to-their-loop", "Engines are created in lifespan or worker startup and disposed."
        ),
        _standard_rule(9, "explicit-writes", "Counters are updated in SQL; JSON columns are assigned a new value."),
        _standard_rule(
            10, "async-background-functions", "Background functions are async; sync code never drives the engine."
        ),
        Rule(
            id="A1",
            name="suppression-needs-reason",
            summary="An audit suppression says why the finding does not apply.",
            help_uri="docs/audit.md#suppressing-a-finding",
        ),
    )
}


@dataclass(frozen=True)
class Check:
    """`severity` in background code; `elsewhere`, the severity in code no task reaches
    (routes, scripts), for the checks that also apply there.
    """

    name: str
    rule_id: str
    catalog_ids: tuple[str, ...]
    severity: Severity
    fix: str
    elsewhere: Severity | None = None

    def severity_for(self, *, in_background: bool) -> Severity:
        return self.severity if in_background or self.elsewhere is None else self.elsewhere

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]


REQUEST_SESSION_HANDED_TO_TASK = Check(
    name="request-session-handed-to-task",
    rule_id="R1",
    catalog_ids=("F2", "F7", "F8", "F10b"),
    severity=Severity.error,
    fix="Pass IDs and plain data; open get_background_session() inside the task.",
)
SESSION_HANDED_TO_TASK = Check(
    name="session-handed-to-task",
    rule_id="R1",
    catalog_ids=("F7", "F8"),
    severity=Severity.error,
    fix="Pass IDs and plain data; open get_background_session() inside the task.",
)
ORM_OBJECT_HANDED_TO_TASK = Check(
    name="orm-object-handed-to-task",
    rule_id="R1",
    catalog_ids=("F2", "F7"),
    severity=Severity.error,
    fix="Pass the primary key and reload the row in the task's own session.",
)
TASK_SIGNATURE_TAKES_SESSION = Check(
    name="task-signature-takes-session",
    rule_id="R1",
    catalog_ids=("F2", "F7"),
    severity=Severity.error,
    fix="Make the task take IDs and plain data; open its own session inside.",
)
LONG_LIVED_SESSION = Check(
    name="long-lived-session",
    rule_id="R1",
    catalog_ids=("F7", "F8"),
    severity=Severity.error,
    fix="Open one short session per operation with get_background_session().",
)
SESSION_HELD_ACROSS_IO = Check(
    name="session-held-across-io",
    rule_id="R2",
    catalog_ids=("F10",),
    severity=Severity.error,
    fix="Do the network I/O or sleep first, then write in a short session.",
    elsewhere=Severity.warning,
)
LAZY_RELATIONSHIP = Check(
    name="lazy-relationship",
    rule_id="R3",
    catalog_ids=("F1",),
    severity=Severity.error,
    fix="Load it eagerly: .options(selectinload(...)), awaitable_attrs or refresh(obj, [attr]).",
    elsewhere=Severity.warning,
)
EXPIRED_ATTRIBUTE = Check(
    name="expired-attribute",
    rule_id="R3",
    catalog_ids=("F2", "F7"),
    severity=Severity.error,
    fix="Use expire_on_commit=False, read before the commit, or pass plain values.",
    elsewhere=Severity.warning,
)
ONUPDATE_AFTER_COMMIT = Check(
    name="onupdate-read-after-commit",
    rule_id="R3",
    catalog_ids=("F3",),
    severity=Severity.error,
    fix="Use server_onupdate=FetchedValue() with eager_defaults, or refresh before reading.",
    elsewhere=Severity.warning,
)
SESSION_SHARED_BY_CONCURRENT_TASKS = Check(
    name="session-shared-by-concurrent-tasks",
    rule_id="R4",
    catalog_ids=("F9",),
    severity=Severity.error,
    fix="Give each concurrent task its own session; bound the concurrency.",
    elsewhere=Severity.warning,
)
TASK_REFERENCE_DROPPED = Check(
    name="task-reference-dropped",
    rule_id="R5",
    catalog_ids=("F11",),
    severity=Severity.warning,
    fix="Keep the task: add it to a set and discard it in add_done_callback.",
)
NO_TERMINAL_STATUS_ON_ERROR = Check(
    name="no-terminal-status-on-error",
    rule_id="R5",
    catalog_ids=("F11",),
    severity=Severity.error,
    fix="Wrap the work in try/except that marks the job failed in a fresh session.",
)
EXCEPTION_SWALLOWED = Check(
    name="exception-swallowed",
    rule_id="R6",
    catalog_ids=("F11",),
    severity=Severity.warning,
    fix="Record the error on the job row (fresh session) or re-raise.",
)
MODULE_ENGINE_ON_NEW_LOOP = Check(
    name="module-engine-on-new-loop",
    rule_id="R8",
    catalog_ids=("F5", "F6"),
    severity=Severity.error,
    fix="Create the engine on the loop that uses it (lifespan or worker startup).",
)
ENGINE_NOT_DISPOSED = Check(
    name="engine-not-disposed",
    rule_id="R8",
    catalog_ids=("F6",),
    severity=Severity.warning,
    fix="await engine.dispose() at shutdown (lifespan exit or finally).",
)
JSON_MUTATED_IN_PLACE = Check(
    name="json-mutated-in-place",
    rule_id="R9",
    catalog_ids=(),
    severity=Severity.error,
    fix="Assign a new value (or update in SQL); in-place changes are not tracked.",
    elsewhere=Severity.warning,
)
STATUS_WRITTEN_ON_FAILED_SESSION = Check(
    name="status-written-on-failed-session",
    rule_id="R5",
    catalog_ids=("F11",),
    severity=Severity.error,
    fix="Roll back first, or record the status in a fresh session.",
    elsewhere=Severity.warning,
)
SYNC_TASK_DRIVES_ASYNC = Check(
    name="sync-task-drives-async",
    rule_id="R10",
    catalog_ids=("F4", "F5"),
    severity=Severity.error,
    fix="Make the task async def and run it on the app's event loop.",
)
SUPPRESSION_WITHOUT_REASON = Check(
    name="suppression-without-reason",
    rule_id="A1",
    catalog_ids=(),
    severity=Severity.warning,
    fix="Say why after the bracket: # playbook: ignore[R2] reason.",
)

CHECKS: tuple[Check, ...] = (
    REQUEST_SESSION_HANDED_TO_TASK,
    SESSION_HANDED_TO_TASK,
    ORM_OBJECT_HANDED_TO_TASK,
    TASK_SIGNATURE_TAKES_SESSION,
    LONG_LIVED_SESSION,
    SESSION_HELD_ACROSS_IO,
    LAZY_RELATIONSHIP,
    EXPIRED_ATTRIBUTE,
    ONUPDATE_AFTER_COMMIT,
    SESSION_SHARED_BY_CONCURRENT_TASKS,
    TASK_REFERENCE_DROPPED,
    NO_TERMINAL_STATUS_ON_ERROR,
    STATUS_WRITTEN_ON_FAILED_SESSION,
    EXCEPTION_SWALLOWED,
    MODULE_ENGINE_ON_NEW_LOOP,
    ENGINE_NOT_DISPOSED,
    JSON_MUTATED_IN_PLACE,
    SYNC_TASK_DRIVES_ASYNC,
    SUPPRESSION_WITHOUT_REASON,
)
