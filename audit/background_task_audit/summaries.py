"""What a function does, independent of its caller: the facts callers and checks need.

Which session parameters it commits, uses or whose objects it changes, whether it waits on
the network, whether it writes a job status, marks a job in progress, and records a status
when something raises. Computed once per function, following calls into the functions it
calls, scanned or only imported from the same source tree.
"""

import ast
from dataclasses import dataclass

from background_task_audit.network import (
    awaited_call,
    direct_network_wait,
    is_http_client_constructor,
)
from background_task_audit.project import ClassRef, FunctionRef, Project
from background_task_audit.sessions import SessionFactories
from background_task_audit.syntax import body_nodes, last_name, statements_nodes

SESSION_WORK_METHODS = frozenset(
    {"execute", "scalar", "scalars", "get", "get_one", "add", "add_all", "flush", "refresh"}
    | {"merge", "delete", "stream", "stream_scalars", "run_sync", "begin", "begin_nested"}
)
BROAD_EXCEPTIONS = frozenset({"Exception", "BaseException"})
IN_PROGRESS_STATUSES = frozenset({"processing", "running", "started", "in_progress", "active"})


@dataclass(frozen=True)
class FunctionSummary:
    """What a function does; parameter sets name the parameters affected."""

    commits: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()
    modifies: frozenset[str] = frozenset()
    network_wait: str | None = None
    writes_status: bool = False
    starts_job: bool = False
    records_failure: bool = False


def is_broad_handler(handler: ast.ExceptHandler) -> bool:
    """`except:`, `except Exception` or `except BaseException` (alone or in a tuple)."""
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(last_name(exception) in BROAD_EXCEPTIONS for exception in types)


def bind_arguments(call: ast.Call, callee: FunctionRef, *, bound: bool | None = None) -> dict[str, ast.expr]:
    """Which argument expression each parameter of `callee` receives at `call`.

    `bound`: whether `self` is filled implicitly; by default, when a method is called on an object.
    """
    if bound is None:
        bound = callee.owner is not None and isinstance(call.func, ast.Attribute)
    positional = callee.positional_parameters(bound=bound)
    arguments = {}
    for name, argument in zip(positional, call.args, strict=False):
        if isinstance(argument, ast.Starred):
            break
        arguments[name] = argument
    arguments.update({item.arg: item.value for item in call.keywords if item.arg is not None})
    return arguments


class Summaries:
    def __init__(self, project: Project, factories: SessionFactories) -> None:
        self._project = project
        self._factories = factories
        self._done: dict[FunctionRef, FunctionSummary] = {}
        self._in_progress: set[FunctionRef] = set()
        self._nested_functions: dict[ast.AST, dict[str, FunctionRef]] = {}

    def callee(self, call: ast.Call, *, caller: FunctionRef) -> FunctionRef | None:
        """The function `call` runs, by import, `self.method`, or nested in the caller.

        It may live outside the scanned files (in the same source tree): its summary still
        counts, though only scanned functions are walked and judged.
        """
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in {"self", "cls"}:
            found = self._project.method(ClassRef(caller.module, caller.owner), func.attr) if caller.owner else None
        elif isinstance(func, ast.Name) and (nested := self._nested(caller, func.id)) is not None:
            found = nested
        else:
            symbol = self._project.resolve(func, module=caller.module)
            found = symbol if isinstance(symbol, FunctionRef) else None
        return found

    def _nested(self, caller: FunctionRef, name: str) -> FunctionRef | None:
        if caller.node not in self._nested_functions:
            self._nested_functions[caller.node] = {
                node.name: FunctionRef(module=caller.module, node=node)
                for node in ast.walk(caller.node)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not caller.node
            }
        return self._nested_functions[caller.node].get(name)

    def of(self, function: FunctionRef) -> FunctionSummary:
        if function in self._done:
            return self._done[function]
        if function in self._in_progress:
            return FunctionSummary()
        self._in_progress.add(function)
        try:
            summary = self._summarise(function)
        finally:
            self._in_progress.discard(function)
        self._done[function] = summary
        return summary

    def _summarise(self, function: FunctionRef) -> FunctionSummary:
        nodes = body_nodes(function.node)
        return FunctionSummary(
            commits=self._affected(function, nodes, direct=_method_receivers(nodes, {"commit"}), field="commits"),
            uses=self._affected(function, nodes, direct=_method_receivers(nodes, SESSION_WORK_METHODS), field="uses"),
            modifies=self._affected(function, nodes, direct=_assigned_owners(nodes), field="modifies"),
            network_wait=self._network_wait(function, nodes),
            writes_status=self.writes_status(nodes, caller=function),
            starts_job=self._starts_job(nodes, caller=function),
            records_failure=self._records_failure(function, nodes),
        )

    def _affected(self, function: FunctionRef, nodes, *, direct: set[str], field: str) -> frozenset[str]:
        """Parameters affected directly, or by being passed on to a parameter a callee affects."""
        found = set(direct)
        for call, callee in self._calls(nodes, caller=function):
            effect = getattr(self.of(callee), field)
            found |= {a.id for p, a in bind_arguments(call, callee).items() if p in effect and isinstance(a, ast.Name)}
        return frozenset(found & set(function.parameter_names()))

    def _calls(self, nodes, *, caller: FunctionRef):
        for node in nodes:
            if isinstance(node, ast.Call) and (callee := self.callee(node, caller=caller)) is not None:
                yield node, callee

    def _network_wait(self, function: FunctionRef, nodes: list[ast.AST]) -> str | None:
        http_clients, sessions = self._receivers(function, nodes)
        for node in nodes:
            waited = (
                node.value if isinstance(node, ast.Await) else node.iter if isinstance(node, ast.AsyncFor) else None
            )
            if not isinstance(waited, ast.Call):
                continue
            call = awaited_call(waited, module=function.module, project=self._project)
            wait = direct_network_wait(
                call, module=function.module, project=self._project, http_clients=http_clients, sessions=sessions
            )
            callee = self.callee(call, caller=function)
            if wait is None and callee is not None and self.of(callee).network_wait:
                wait = f"{callee.qualname}() -> {self.of(callee).network_wait}"
            if wait is not None:
                return wait
        return None

    def _receivers(self, function: FunctionRef, nodes: list[ast.AST]) -> tuple[set[str], set[str]]:
        """Local names known to be HTTP clients and sessions, for telling `x.get()` apart."""
        module = function.module
        sessions = {n for n, a in function.annotations().items() if self._factories.is_session_type(a, module=module)}
        http_clients = set()
        for node in nodes:
            pairs = []
            if isinstance(node, ast.With | ast.AsyncWith):
                pairs = [(item.optional_vars, item.context_expr) for item in node.items]
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                pairs = [(node.targets[0], node.value)]
            for target, value in pairs:
                if not isinstance(target, ast.Name) or not isinstance(value, ast.Call):
                    continue
                if is_http_client_constructor(value, module=module, project=self._project):
                    http_clients.add(target.id)
                elif self._factories.created_session(value, module=module) is not None:
                    sessions.add(target.id)
        return http_clients, sessions

    def writes_status(self, nodes, *, caller: FunctionRef) -> bool:
        """Whether `nodes` set a status: `x.status = ...`, `status=...`, or call something that does."""
        if any(True for _ in _status_values(nodes)):
            return True
        return any(self.of(callee).writes_status for _, callee in self._calls(nodes, caller=caller))

    def _starts_job(self, nodes, *, caller: FunctionRef) -> bool:
        """Whether `nodes` mark a job in progress ("processing", "running"...), directly or by a call."""
        if any(_is_in_progress(value) for value in _status_values(nodes)):
            return True
        return any(self.of(callee).starts_job for _, callee in self._calls(nodes, caller=caller))

    def _records_failure(self, function: FunctionRef, nodes: list[ast.AST]) -> bool:
        for node in nodes:
            if not isinstance(node, ast.Try | ast.TryStar):
                continue
            guarded = [handler.body for handler in node.handlers if is_broad_handler(handler)] + [node.finalbody]
            if any(self.writes_status(list(statements_nodes(block)), caller=function) for block in guarded):
                return True
        return False


def _method_receivers(nodes, methods: set[str] | frozenset[str]) -> set[str]:
    """Names that `name.method(...)` is called on, for `methods`."""
    return {
        node.func.value.id
        for node in nodes
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.attr in methods
    }


def _assigned_owners(nodes) -> set[str]:
    """Names whose attributes are assigned: `job` in `job.status = ...` or `job.count += 1`."""
    owners = set()
    for node in nodes:
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                    owners.add(target.value.id)
    return owners


def _status_values(nodes):
    """The values given to a `status`: `x.status = value` or `status=value`."""
    for node in nodes:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Attribute) and target.attr == "status" for target in targets):
                yield node.value
        elif isinstance(node, ast.Call):
            yield from (item.value for item in node.keywords if item.arg == "status")


def _is_in_progress(value: ast.expr) -> bool:
    names = (
        node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else last_name(node)
        for node in ast.walk(value)
    )
    return any((name or "").lower() in IN_PROGRESS_STATUSES for name in names)
