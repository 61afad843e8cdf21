"""R5 and R6 on error paths: a job that can end without a terminal status when it raises
(F11), a failure status written on the session whose work just failed, and a broad
`except` that swallows the error and leaves the job it started unfinished.

R6 is narrow on purpose. A handler for a named exception (`except FileNotFoundError:
return None`) is control flow; a best-effort step (a webhook, a cache) may log and go
on; a task that writes a terminal status after the handler has recorded an outcome. What
is left: `except Exception` (or `BaseException`, or bare) in code a task reaches, whose
body only logs, passes, continues or returns a constant, around work that would have
written the job's terminal status, in a task that marks a job in progress, with no
terminal status written after it on the way out.
"""

import ast
from collections.abc import Iterator

from background_task_audit.checks.context import EntryContext
from background_task_audit.checks.verdicts import Verdict, at_event
from background_task_audit.events import FailedSessionWrite
from background_task_audit.orm import ModelInfo
from background_task_audit.project import FunctionRef
from background_task_audit.rules import (
    EXCEPTION_SWALLOWED,
    NO_TERMINAL_STATUS_ON_ERROR,
    STATUS_WRITTEN_ON_FAILED_SESSION,
)
from background_task_audit.summaries import is_broad_handler
from background_task_audit.syntax import last_name

LOG_CALLS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print", "print_exc"}
)
CALL_DEPTH = 4
COMPOUND = ast.Try | ast.TryStar | ast.If | ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith | ast.Match


def judge_terminal_status(context: EntryContext) -> Iterator[Verdict]:
    """A task that runs one job (it takes its id or its row) and marks it in progress must end it."""
    if not _runs_one_job(context):
        return
    summaries = [context.summaries.of(function) for function in context.reached]
    if any(s.starts_job for s in summaries) and not any(s.records_failure for s in summaries):
        message = f"`{context.entry.name}` marks the job in progress, but records no status when it raises"
        function = context.function
        yield Verdict(check=NO_TERMINAL_STATUS_ON_ERROR, message=message, module=function.module, node=function.node)


def _runs_one_job(context: EntryContext) -> bool:
    function = context.function
    if any(name.endswith("_id") for name in function.parameter_names()):
        return True
    return any(
        isinstance(context.types.of_annotation(annotation, module=function.module), ModelInfo)
        for annotation in function.annotations().values()
    )


def judge_failed_session_write(event: FailedSessionWrite) -> Iterator[Verdict]:
    message = f"the except block writes a status through `{event.session}`, whose work just failed, without a rollback"
    yield at_event(event, STATUS_WRITTEN_ON_FAILED_SESSION, message)


def judge_swallowed_errors(context: EntryContext) -> Iterator[Verdict]:
    if not any(context.summaries.of(function).starts_job for function in context.reached):
        return
    for function in context.reached:
        for statement in context.walker.body(function.node):
            if not isinstance(statement, ast.Try | ast.TryStar):
                continue
            if not context.summaries.writes_status(statement.body, caller=function, terminal=True):
                continue  # the error skips no terminal status: the job ends as the work would have
            if all(context.summaries.writes_status([part], caller=function) for part in statement.body):
                continue  # the status write itself failed: there is nothing left to record it with
            for handler in statement.handlers:
                if not (is_broad_handler(handler) and _swallows(handler)):
                    continue
                if _finished_after(context, function, statement):
                    continue
                caught = ast.unparse(handler.type) if handler.type else "everything"
                message = (
                    f"`except {caught}` in `{function.qualname}` only logs or passes; the job the task started "
                    "is left unfinished and the error is lost"
                )
                yield Verdict(check=EXCEPTION_SWALLOWED, message=message, module=function.module, node=handler)


def _finished_after(context: EntryContext, function: FunctionRef, handled: ast.Try | ast.TryStar) -> bool:
    """Whether a terminal status is written after `handled` on the way out: in the function, or its callers."""
    if _writes_terminal(context, function, _statements_after(function.node, handled)):
        return True
    if function.node is context.function.node:
        return False
    entry = context.function
    for statement in _statements_calling(context, entry, function):
        if _writes_terminal(context, entry, _statements_after(entry.node, statement)):
            return True
    return False


def _writes_terminal(context: EntryContext, function: FunctionRef, statements: list[ast.stmt]) -> bool:
    return bool(statements) and context.summaries.writes_status(statements, caller=function, terminal=True)


def _statements_after(function: ast.AST, target: ast.stmt) -> list[ast.stmt]:
    """The statements that run after `target` completes: the rest of each enclosing block, and `finally` blocks."""
    path = _path_to(getattr(function, "body", []), target)
    after: list[ast.stmt] = []
    for block, index, owner in reversed(path):
        after += block[index + 1 :]
        if isinstance(owner, ast.Try | ast.TryStar) and block is not owner.finalbody:
            after += owner.finalbody
    return after


def _path_to(
    block: list[ast.stmt], target: ast.stmt, owner: ast.AST | None = None
) -> list[tuple[list[ast.stmt], int, ast.AST | None]]:
    """The blocks from the function body down to `target`, with its position in each and the block's owner."""
    for index, statement in enumerate(block):
        if statement is target:
            return [(block, index, owner)]
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for inner in _blocks(statement):
            found = _path_to(inner, target, statement)
            if found:
                return [(block, index, owner), *found]
    return []


def _blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    blocks = [
        getattr(statement, name)
        for name in ("body", "orelse", "finalbody")
        if isinstance(getattr(statement, name, None), list)
    ]
    blocks += [part.body for part in [*getattr(statement, "handlers", []), *getattr(statement, "cases", [])]]
    return blocks


def _statements_calling(context: EntryContext, entry: FunctionRef, target: FunctionRef) -> list[ast.stmt]:
    """The statements of `entry`'s body (at any depth) whose calls lead to `target`."""
    found = []
    for statement in context.walker.body(entry.node):
        if not isinstance(statement, ast.stmt) or isinstance(statement, COMPOUND):
            continue
        calls = (node for node in context.walker.within([statement], scope=entry.node) if isinstance(node, ast.Call))
        if any(_leads_to(context, entry, call, target, CALL_DEPTH) for call in calls):
            found.append(statement)
    return found


def _leads_to(context: EntryContext, caller: FunctionRef, call: ast.Call, target: FunctionRef, depth: int) -> bool:
    callee = context.summaries.callee(call, caller=caller)
    if callee is None:
        return False
    if callee.node is target.node:
        return True
    if depth == 0:
        return False
    inner = (node for node in context.walker.body(callee.node) if isinstance(node, ast.Call))
    return any(_leads_to(context, callee, node, target, depth - 1) for node in inner)


def _swallows(handler: ast.ExceptHandler) -> bool:
    return all(_is_inert(statement) for statement in handler.body)


def _is_inert(statement: ast.stmt) -> bool:
    """A statement that neither re-raises nor records anything: pass, continue, a log line..."""
    if isinstance(statement, ast.Pass | ast.Continue | ast.Break):
        return True
    if isinstance(statement, ast.Return):
        return statement.value is None or isinstance(statement.value, ast.Constant)
    if isinstance(statement, ast.Expr):
        value = statement.value
        return isinstance(value, ast.Constant) or (isinstance(value, ast.Call) and _is_log_call(value))
    return False


def _is_log_call(call: ast.Call) -> bool:
    if isinstance(call.func, ast.Name):
        return call.func.id == "print"
    receiver = ast.unparse(call.func.value).lower() if isinstance(call.func, ast.Attribute) else ""
    return last_name(call.func) in LOG_CALLS and ("log" in receiver or receiver == "traceback")
