"""The checks: each judges what the analysis saw and says which rule it breaks.

Flow checks judge one event of the flow analysis; entry checks judge one entry point
with everything it reaches; module checks judge the scanned modules as a whole.
"""

from collections.abc import Callable, Iterator

from background_task_audit.checks.concurrency import (
    judge_concurrent_use,
    judge_dropped_tasks,
)
from background_task_audit.checks.context import EntryContext
from background_task_audit.checks.engines import judge_engines
from background_task_audit.checks.failures import (
    judge_failed_session_write,
    judge_swallowed_errors,
    judge_terminal_status,
)
from background_task_audit.checks.handoff import (
    judge_handoff,
    judge_long_lived_session,
    judge_task_signature,
)
from background_task_audit.checks.held_sessions import judge_network_wait
from background_task_audit.checks.json_writes import judge_json_mutation
from background_task_audit.checks.loading import judge_attribute_read
from background_task_audit.checks.sync_tasks import judge_sync_task
from background_task_audit.checks.verdicts import Verdict
from background_task_audit.events import (
    AttributeRead,
    ConcurrentSessionUse,
    FailedSessionWrite,
    FlowEvent,
    JsonMutation,
    LongLivedSessionUse,
    NetworkWaitWhileHolding,
    TaskHandoff,
)

FLOW_CHECKS: dict[type[FlowEvent], Callable[..., Iterator[Verdict]]] = {
    FailedSessionWrite: judge_failed_session_write,
    TaskHandoff: judge_handoff,
    LongLivedSessionUse: judge_long_lived_session,
    NetworkWaitWhileHolding: judge_network_wait,
    AttributeRead: judge_attribute_read,
    ConcurrentSessionUse: judge_concurrent_use,
    JsonMutation: judge_json_mutation,
}


def judge_event(event: FlowEvent) -> Iterator[Verdict]:
    return FLOW_CHECKS[type(event)](event)


ENTRY_CHECKS: tuple[Callable[[EntryContext], Iterator[Verdict]], ...] = (
    judge_task_signature,
    judge_terminal_status,
    judge_swallowed_errors,
    judge_sync_task,
)


def judge_entry(context: EntryContext) -> Iterator[Verdict]:
    for check in ENTRY_CHECKS:
        yield from check(context)


__all__ = ["EntryContext", "Verdict", "judge_dropped_tasks", "judge_engines", "judge_entry", "judge_event"]
