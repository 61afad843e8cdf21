"""R5 and R6 on error paths: a job that can end without a terminal status when it raises
(F11), and `except` blocks that swallow the error: they only log, pass or continue, with
no re-raise and no status written.
"""

import ast
from collections.abc import Iterator

from background_task_audit.checks.context import EntryContext
from background_task_audit.checks.verdicts import Verdict
from background_task_audit.project import FunctionRef
from background_task_audit.rules import EXCEPTION_SWALLOWED, NO_TERMINAL_STATUS_ON_ERROR
from background_task_audit.syntax import body_nodes, last_name

LOG_CALLS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print", "print_exc"}
)
# Control flow, not failure: cancellation swallowed after cancelling a task on purpose (how
# shutdown code waits for it), and the ends of iterators and streams.
CONTROL_FLOW_EXCEPTIONS = frozenset(
    {"CancelledError", "StopIteration", "StopAsyncIteration", "GeneratorExit", "EndOfStream"}
)


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
    return any(context.models.model_for(a, module=function.module) for a in function.annotations().values())


def judge_swallowed_errors(context: EntryContext) -> Iterator[Verdict]:
    for function in context.reached:
        retrying = _retry_loop_handlers(function)
        for node in body_nodes(function.node):
            if isinstance(node, ast.ExceptHandler) and node not in retrying and _swallows(node):
                caught = ast.unparse(node.type) if node.type else "everything"
                message = f"`except {caught}` in `{function.qualname}` only logs or passes; the error is lost"
                yield Verdict(check=EXCEPTION_SWALLOWED, message=message, module=function.module, node=node)


def _retry_loop_handlers(function: FunctionRef) -> set[ast.ExceptHandler]:
    """Handlers of a `while` loop's body that log the traceback: the loop logs and tries again.

    A supervising loop (a periodic sweep) has no job to record the error on; logging the
    traceback and running the next round is how it stays alive without hiding failures.
    """
    return {
        handler
        for loop in body_nodes(function.node)
        if isinstance(loop, ast.While)
        for statement in loop.body
        if isinstance(statement, ast.Try)
        for handler in statement.handlers
        if any(_logs_traceback(s) for s in handler.body)
    }


def _logs_traceback(statement: ast.stmt) -> bool:
    if not (
        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) and _is_log_call(statement.value)
    ):
        return False
    call = statement.value
    return last_name(call.func) == "exception" or any(item.arg == "exc_info" for item in call.keywords)


def _swallows(handler: ast.ExceptHandler) -> bool:
    if handler.type is not None and last_name(handler.type) in CONTROL_FLOW_EXCEPTIONS:
        return False
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
