"""R1: a task receives IDs and plain data, never a session or an ORM instance.

Judged where the task is started (what is handed over, in one finding per start), on the
task's signature when no starter shows it, and wherever background code uses a session
kept in a module global. A session handed to a task that runs beside its starter is R4.
"""

from collections.abc import Iterator

from background_task_audit.checks.context import EntryContext
from background_task_audit.checks.verdicts import Verdict, at_event
from background_task_audit.events import LongLivedSessionUse, TaskHandoff
from background_task_audit.kinds import Kind
from background_task_audit.orm import ModelInfo
from background_task_audit.rules import (
    LONG_LIVED_SESSION,
    ORM_OBJECT_HANDED_TO_TASK,
    REQUEST_SESSION_HANDED_TO_TASK,
    SESSION_HANDED_TO_TASK,
    SESSION_SHARED_BY_CONCURRENT_TASKS,
    TASK_SIGNATURE_TAKES_SESSION,
)
from background_task_audit.values import HolderValue, OrmValue, SessionValue, Value


def judge_handoff(event: TaskHandoff) -> Iterator[Verdict]:
    target = event.site.target_label
    sessions: dict[str, SessionValue] = {}
    rows: list[str] = []
    beside = event.site.concurrent or event.site.kind.partition(" ")[0] in THREADS
    for source, value in event.handed:
        # A row read in a thread or a task beside its starter stays readable unless it expired.
        if isinstance(value, OrmValue) and (value.expired or not beside):
            rows.append(f"`{source}` ({value.model.name})")
        sessions.update(_sessions(source, value))
    if event.site.concurrent:
        if sessions:
            described = ", ".join(f"`{name}` ({session.origin})" for name, session in sessions.items())
            message = f"{described} shared with task `{target}`, which runs concurrently"
            yield at_event(event, SESSION_SHARED_BY_CONCURRENT_TASKS, message, in_background=True)
        if rows:
            message = f"ORM instance {', '.join(rows)} handed to task `{target}`"
            yield at_event(event, ORM_OBJECT_HANDED_TO_TASK, message, in_background=True)
        return
    if not sessions and not rows:
        return
    parts = [f"`{name}` ({session.origin})" for name, session in sessions.items()]
    parts += [f"ORM instance {row}" for row in rows]
    if any(session.from_request for session in sessions.values()):
        check = REQUEST_SESSION_HANDED_TO_TASK
    elif sessions:
        check = SESSION_HANDED_TO_TASK
    else:
        check = ORM_OBJECT_HANDED_TO_TASK
    yield at_event(event, check, f"{', '.join(parts)} handed to task `{target}`", in_background=True)


THREADS = frozenset({"asyncio.to_thread", "anyio.to_thread.run_sync", "run_in_threadpool", "loop.run_in_executor"})


def _sessions(source: str, value: Value) -> dict[str, SessionValue]:
    if isinstance(value, SessionValue):
        return {source: value}
    if isinstance(value, HolderValue):
        return {f"{source}.{name}": session for name, session in value.sessions().items()}
    return {}


def judge_long_lived_session(event: LongLivedSessionUse) -> Iterator[Verdict]:
    message = f"background code uses `{event.name}`, a session that outlives every operation"
    yield at_event(event, LONG_LIVED_SESSION, message)


def _runs_beside_its_starter(context: EntryContext) -> bool:
    """A task started with `create_task`: a row loaded for it stays readable, unlike one
    sent through a queue or read after the response by a request whose session has moved on."""
    return bool(context.entry.sites) and all(site.concurrent for site in context.entry.sites)


def judge_task_signature(context: EntryContext) -> Iterator[Verdict]:
    """Session or model parameters of a task whose starters were not seen handing them over."""
    function = context.function
    # What the starters were seen handing over is judged where they hand it over.
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
        info = context.types.of_annotation(parameter.annotation, module=function.module)
        if info is Kind.session:
            kind = "an AsyncSession"
        elif isinstance(info, ModelInfo) and not _runs_beside_its_starter(context):
            kind = f"an ORM instance ({info.name})"
        else:
            continue
        message = f"task `{context.entry.name}` takes {kind} as `{parameter.arg}`"
        yield Verdict(check=TASK_SIGNATURE_TAKES_SESSION, message=message, module=function.module, node=parameter)
