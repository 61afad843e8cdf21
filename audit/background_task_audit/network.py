"""Which calls wait on something slow: the waits no session may be held across (R2).

Network I/O through a client known by its type (httpx, aiohttp, requests, urllib, API
SDKs such as openai or boto3, SMTP), a call into one of those libraries, network work
handed to a thread (`to_thread`, `run_in_executor`, `run_in_threadpool` running a
function that does network I/O), and sleeps. A sleep of a constant under a second (a
backoff between two attempts) is not counted, nor is quick work in a thread (a file
read), nor a cache or queue such as Redis, which answers in well under a millisecond.
"""

import ast
from collections.abc import Callable

from background_task_audit.kinds import is_network_call
from background_task_audit.project import AssignmentRef, ExternalRef, Project
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import last_name
from background_task_audit.values import ClientValue, Value

SLEEPS = frozenset({"asyncio.sleep", "anyio.sleep", "trio.sleep"})
SHORT_SLEEP_SECONDS = 1.0
THREAD_HANDOFFS = frozenset({"asyncio.to_thread", "anyio.to_thread.run_sync"})
# Wrappers whose first argument is the awaitable that does the waiting.
AWAIT_WRAPPERS = frozenset({"asyncio.wait_for", "asyncio.shield", "anyio.fail_after"})
# Clients whose calls block the event loop on network I/O (no `await`).
BLOCKING_CLIENTS = frozenset({"boto3", "botocore", "requests", "smtplib"})

ValueOf = Callable[[ast.expr], Value | None]
# What a function handed to a thread waits on (`None`: nothing slow the audit can show).
WorkOf = Callable[[ast.expr], str | None]


def awaited_call(call: ast.Call, *, module: SourceModule, project: Project) -> ast.Call:
    """The call that really waits: `client.get()` in `await asyncio.wait_for(client.get(), 5)`."""
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef) and symbol.qualified_name in AWAIT_WRAPPERS and call.args:
        inner = call.args[0]
        return awaited_call(inner, module=module, project=project) if isinstance(inner, ast.Call) else call
    return call


def direct_wait(
    call: ast.Call, *, module: SourceModule, project: Project, value_of: ValueOf, work_of: WorkOf
) -> str | None:
    """What slow thing `call` waits on itself, described for a message, or None.

    `value_of` tells what a receiver expression is (a client, a session...), as the
    caller knows it: the flow analysis from its state, a summary from declarations.
    `work_of` tells what a function handed to a thread waits on.
    """
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef):
        name = symbol.qualified_name
        if name in SLEEPS:
            return None if _short_constant(call, module=module, project=project) else f"{name}()"
        if name in THREAD_HANDOFFS or name.endswith(".run_in_threadpool"):
            return _in_thread(name, call.args[:1], work_of)
        if is_network_call(name, awaited=True):
            return f"{name}()"
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr == "run_in_executor":
        return _in_thread(ast.unparse(func), call.args[1:2], work_of)
    client = _client_of(func, value_of)
    if client is not None and (client.methods is None or func.attr in client.methods):
        return f"{client.label} {ast.unparse(func)}()"
    return None


def blocking_wait(call: ast.Call, *, module: SourceModule, project: Project, value_of: ValueOf) -> str | None:
    """A network call that blocks without `await`: `requests.get()`, a sync client's `get()`."""
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef) and is_network_call(symbol.qualified_name, awaited=False):
        return f"blocking {symbol.qualified_name}()"
    func = call.func
    if isinstance(func, ast.Attribute):
        client = _client_of(func, value_of)
        if client is not None and client.label in BLOCKING_CLIENTS | {"HTTP (sync)"}:
            if client.methods is None or func.attr in client.methods:
                return f"blocking {client.label} {ast.unparse(func)}()"
    return None


def _in_thread(runner: str, handed: list[ast.expr], work_of: WorkOf) -> str | None:
    """`to_thread(fn, ...)` waits as long as `fn` does: slow when `fn` does network I/O."""
    if not handed:
        return None
    work = handed[0]
    if isinstance(work, ast.Call) and last_name(work.func) == "partial" and work.args:
        work = work.args[0]
    waits = work_of(work)
    return f"{runner}({ast.unparse(work)}) in a thread -> {waits}" if waits else None


def _client_of(func: ast.Attribute, value_of: ValueOf) -> ClientValue | None:
    """The client a method is called on, through attributes: `client.chat.completions.create`."""
    receiver: ast.expr = func.value
    direct = True
    while True:
        value = value_of(receiver)
        if isinstance(value, ClientValue):
            # Only a client's own methods are network calls; deeper chains belong to SDKs.
            return value if direct or value.methods is None else None
        if not isinstance(receiver, ast.Attribute):
            return None
        receiver, direct = receiver.value, False


def _short_constant(call: ast.Call, *, module: SourceModule, project: Project) -> bool:
    """A sleep of a constant under a second: a literal, a module constant, `random.uniform(a, b)` of
    such, or a parameter whose default is one (`delay: float = 0`)."""
    delay = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in {"delay", "seconds"}), None)
    seconds = _constant_seconds(delay, module=module, project=project) if delay is not None else None
    return seconds is not None and seconds < SHORT_SLEEP_SECONDS


def _constant_seconds(expr: ast.expr, *, module: SourceModule, project: Project, depth: int = 0) -> float | None:
    if depth > 4:
        return None
    if isinstance(expr, ast.Constant):
        value = expr.value
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(expr, ast.Name | ast.Attribute):
        symbol = project.resolve(expr, module=module)
        if isinstance(symbol, AssignmentRef):
            return _constant_seconds(symbol.value, module=symbol.module, project=project, depth=depth + 1)
        default = _parameter_default(expr, module=module)
        return _constant_seconds(default, module=module, project=project, depth=depth + 1) if default else None
    if isinstance(expr, ast.Call) and last_name(expr.func) in {"uniform", "min", "max"} and expr.args:
        bounds = [_constant_seconds(a, module=module, project=project, depth=depth + 1) for a in expr.args]
        if None in bounds:
            return None
        known = [bound for bound in bounds if bound is not None]
        return min(known) if last_name(expr.func) == "min" else max(known)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult | ast.Add | ast.Sub | ast.Div):
        left = _constant_seconds(expr.left, module=module, project=project, depth=depth + 1)
        right = _constant_seconds(expr.right, module=module, project=project, depth=depth + 1)
        if left is None or right is None or (isinstance(expr.op, ast.Div) and right == 0):
            return None
        operations = {ast.Mult: left * right, ast.Add: left + right, ast.Sub: left - right}
        return operations.get(type(expr.op), left / right if right else None)
    return None


def _parameter_default(expr: ast.expr, *, module: SourceModule) -> ast.expr | None:
    """The default of the parameter `expr` names, in the function whose body holds `expr`."""
    if not isinstance(expr, ast.Name):
        return None
    for node in ast.walk(module.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _encloses(node, expr):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            pairs = list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is not None]
            return next((default for argument, default in pairs if argument.arg == expr.id), None)
    return None


def _encloses(function: ast.FunctionDef | ast.AsyncFunctionDef, expr: ast.expr) -> bool:
    end = getattr(function, "end_lineno", None) or function.lineno
    return function.lineno <= expr.lineno <= end and all(
        not (
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and inner is not function and _within(inner, expr)
        )
        for inner in ast.walk(function)
    )


def _within(function: ast.FunctionDef | ast.AsyncFunctionDef, expr: ast.expr) -> bool:
    end = getattr(function, "end_lineno", None) or function.lineno
    return function.lineno <= expr.lineno <= end
