"""R10: background functions are `async def`; sync code never drives the async engine.

A sync task runs in a worker thread (Starlette's threadpool, `to_thread`, an executor, a
Celery worker). Handed an AsyncSession, its calls return coroutines that never run (F4).
In the app's process, running `asyncio.run()` there starts a loop the app's engine does
not belong to (F5). A task engine's worker (Celery, dramatiq) has no app loop: there
`asyncio.run()` is how async code runs, and the engine it must not share is R8's concern.
"""

import ast
from collections.abc import Iterator
from itertools import chain

from background_task_audit.checks.context import EntryContext
from background_task_audit.checks.engines import starts_event_loop
from background_task_audit.checks.verdicts import Verdict
from background_task_audit.rules import SYNC_TASK_DRIVES_ASYNC
from background_task_audit.values import SessionValue


def judge_sync_task(context: EntryContext) -> Iterator[Verdict]:
    if context.function.is_async:
        return
    first = next(chain(_driving_async_code(context), _given_sessions(context)), None)
    if first is not None:
        yield first


def _driving_async_code(context: EntryContext) -> Iterator[Verdict]:
    """Event loops started, or AsyncSessions opened, in the task or the sync functions it calls."""
    name = context.entry.name
    # A loop of the task's own that drives no session (an SDK's async client) is not the app's engine's business.
    in_app = bool(context.entry.sites) and any(
        context.touches_sessions(function) for function in context.reached if function.is_async
    )
    for function in (reached for reached in context.reached if not reached.is_async):
        for call in (node for node in context.walker.body(function.node) if isinstance(node, ast.Call)):
            opened = ast.unparse(call.func)
            if in_app and starts_event_loop(call, module=function.module, project=context.project):
                message = f"sync task `{name}` starts an event loop with {opened}()"
            elif context.factories.creates_async_session(call, module=function.module):
                message = f"sync task `{name}` opens an AsyncSession with {opened}(); its calls never run"
            else:
                continue
            yield Verdict(check=SYNC_TASK_DRIVES_ASYNC, message=message, module=function.module, node=call)


def _given_sessions(context: EntryContext) -> Iterator[Verdict]:
    function = context.function
    handed = {name for values in context.arguments for name, value in values.items() if isinstance(value, SessionValue)}
    annotated = {
        name
        for name, annotation in function.annotations().items()
        if context.factories.is_session_type(annotation, module=function.module)
    }
    for parameter in sorted(handed | annotated):
        message = f"sync task `{context.entry.name}` is given AsyncSession `{parameter}`; its calls never run"
        yield Verdict(check=SYNC_TASK_DRIVES_ASYNC, message=message, module=function.module, node=function.node)
