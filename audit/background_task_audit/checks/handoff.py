"""R1: a task receives IDs and plain data, never a session or an ORM instance.

Judged where the task is started (what is handed over), on the task's signature when no
starter shows it, and wherever background code uses a session kept in a module global.
"""

from collections.abc import Iterator

from background_task_audit.checks.context import EntryContext
from background_task_audit.checks.verdicts import Verdict, at_event
from background_task_audit.events import LongLivedSessionUse, TaskHandoff
from background_task_audit.rules import (
    LONG_LIVED_SESSION,
    ORM_OBJECT_HANDED_TO_TASK,
    REQUEST_SESSION_HANDED_TO_TASK,
    SESSION_HANDED_TO_TASK,
    SESSION_SHARED_BY_CONCURRENT_TASKS,
    TASK_SIGNATURE_TAKES_SESSION,
)
from background_task_audit.values import HolderValue, OrmValue, SessionValue


def judge_handoff(event: TaskHandoff) -> Iterator[Verdict]:
    target = event.site.target_label
    for source, value in event.handed:
        if isinstance(value, OrmValue):
            message = f"ORM instance `{source}` ({value.model.name}) is handed to task `{target}`"
            yield at_event(event, ORM_OBJECT_HANDED_TO_TASK, message)
        for name, session in _sessions(source, value).items():
            yield _session_verdict(event, name=name, session=session, target=target)


def _sessions(source: str, value) -> dict[str, SessionValue]:
    if isinstance(value, SessionValue):
        return {source: value}
    if isinstance(value, HolderValue):
        return {f"{source}.{name}": session for name, session in value.sessions().items()}
    return {}


def _session_verdict(event: TaskHandoff, *, name: str, session: SessionValue, target: str) -> Verdict:
    if event.site.concurrent:
        message = f"`{name}` ({session.origin}) is shared with task `{target}`, which runs concurrently"
        return at_event(event, SESSION_SHARED_BY_CONCURRENT_TASKS, message)
    check = REQUEST_SESSION_HANDED_TO_TASK if session.from_request else SESSION_HANDED_TO_TASK
    return at_event(event, check, f"`{name}` ({session.origin}) is handed to task `{target}`")


def judge_long_lived_session(event: LongLivedSessionUse) -> Iterator[Verdict]:
    message = f"background code uses `{event.name}`, a session that outlives every operation"
    yield at_event(event, LONG_LIVED_SESSION, message)


def judge_task_signature(context: EntryContext) -> Iterator[Verdict]:
    """Session or model parameters of a task whose starters were not seen handing them over."""
    function = context.function
    handed = {
        name
        for values in context.arguments
        for name, value in values.items()
        if isinstance(value, SessionValue | OrmValue)
    }
    arguments = function.node.args
    for parameter in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        if parameter.arg in handed or parameter.annotation is None:
            continue
        if context.factories.is_session_type(parameter.annotation, module=function.module):
            kind = "an AsyncSession"
        elif (model := context.models.model_for(parameter.annotation, module=function.module)) is not None:
            kind = f"an ORM instance ({model.name})"
        else:
            continue
        message = f"task `{context.entry.name}` takes {kind} as `{parameter.arg}`"
        yield Verdict(check=TASK_SIGNATURE_TAKES_SESSION, message=message, module=function.module, node=parameter)
