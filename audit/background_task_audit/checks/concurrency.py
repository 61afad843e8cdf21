"""R4 and R5 around concurrency: one session shared by concurrent coroutines (F9), and
tasks whose only reference is dropped, so they can vanish with their error unseen (F11).
"""

from collections.abc import Iterable, Iterator

from background_task_audit.checks.verdicts import Verdict, at_event, quoted
from background_task_audit.entrypoints import SchedulingSite
from background_task_audit.events import ConcurrentSessionUse
from background_task_audit.rules import (
    SESSION_SHARED_BY_CONCURRENT_TASKS,
    TASK_REFERENCE_DROPPED,
)


def judge_concurrent_use(event: ConcurrentSessionUse) -> Iterator[Verdict]:
    names = quoted(name for name, _ in event.sessions)
    yield at_event(
        event, SESSION_SHARED_BY_CONCURRENT_TASKS, f"session {names} is shared by the coroutines of {event.how}"
    )


def judge_dropped_tasks(sites: Iterable[SchedulingSite]) -> Iterator[Verdict]:
    for site in sites:
        if not site.owns_reference and not site.result_kept:
            message = f"the task running `{site.target_label}` is not kept; it can be collected mid-run"
            yield Verdict(check=TASK_REFERENCE_DROPPED, message=message, module=site.module, node=site.call)
