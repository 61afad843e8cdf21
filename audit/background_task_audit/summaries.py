"""What a function does, independent of its caller: the facts callers and checks need.

Which sessions reachable from its parameters (`session`, `self.session`) it commits, uses
or whose objects it changes, whether it waits on something slow, whether it writes a job
status, marks a job in progress, records a status when something raises, and which
session-holding ContextVar it reads. Computed once per function, following calls into
the functions it calls, scanned or only imported from the same source tree. Also what
a class's instances hold, read from its declarations.
"""

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from background_task_audit.kinds import Kind, is_network_call
from background_task_audit.network import awaited_call, blocking_wait, direct_wait
from background_task_audit.project import AssignmentRef, ClassRef, ExternalRef, FunctionRef, Project
from background_task_audit.sessions import SessionFactories, value_of_kind
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import Walker, dotted_name, last_name
from background_task_audit.values import ClientValue, ContextVarValue, SessionValue, Value

SESSION_WORK_METHODS = frozenset(
    {"execute", "scalar", "scalars", "get", "get_one", "flush", "refresh", "exec", "merge", "delete"}
    | {"stream", "stream_scalars", "run_sync", "begin", "begin_nested", "connection"}
)
SESSION_USE_METHODS = SESSION_WORK_METHODS | {"add", "add_all"}
BROAD_EXCEPTIONS = frozenset({"Exception", "BaseException"})
IN_PROGRESS_STATUSES = frozenset({"processing", "running", "started", "in_progress", "pending_processing", "executing"})


@dataclass(frozen=True)
class FunctionSummary:
    """What a function does; session sets name keys rooted at its parameters (`session`, `self.db`)."""

    commits: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()
    modifies: frozenset[str] = frozenset()
    network_wait: str | None = None
    writes_status: bool = False
    starts_job: bool = False
    records_failure: bool = False
    context_session: str | None = None
    rolls_back_first: frozenset[str] = frozenset()


def is_broad_handler(handler: ast.ExceptHandler) -> bool:
    """`except:`, `except Exception` or `except BaseException` (alone or in a tuple)."""
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(last_name(exception) in BROAD_EXCEPTIONS for exception in types)


def bind_arguments(call: ast.Call, callee: FunctionRef, *, bound: bool | None = None) -> dict[str, ast.expr]:
    """Which argument expression each parameter of `callee` receives at `call`.

    `bound`: whether `self` is filled implicitly; by default, when a method is called on an
    object. The receiver is then bound to `self` too (`self` for `self._helper()`).
    """
    if bound is None:
        bound = callee.owner is not None and isinstance(call.func, ast.Attribute)
    positional = callee.positional_parameters(bound=bound)
    arguments: dict[str, ast.expr] = {}
    every = callee.positional_parameters(bound=False)
    if bound and every and isinstance(call.func, ast.Attribute) and not _is_static(callee):
        arguments[every[0]] = call.func.value
    for name, argument in zip(positional, call.args, strict=False):
        if isinstance(argument, ast.Starred):
            break
        arguments[name] = argument
    arguments.update({item.arg: item.value for item in call.keywords if item.arg is not None})
    return arguments


def _is_static(function: FunctionRef) -> bool:
    return any(last_name(decorator) == "staticmethod" for decorator in function.node.decorator_list)


def rebased(key: str, bound: dict[str, str]) -> str | None:
    """`self.session` in a callee, as the caller names it (`service.session`), through `bound` roots
    (or the whole key, where the caller knows it by another name)."""
    if key in bound:
        return bound[key]
    root, dot, rest = key.partition(".")
    base = bound.get(root)
    if base is None:
        return None
    return f"{base}{dot}{rest}"


class Summaries:
    def __init__(self, project: Project, factories: SessionFactories, walker: Walker) -> None:
        self._project = project
        self._factories = factories
        self._types = factories.types
        self._walker = walker
        self._done: dict[FunctionRef, FunctionSummary] = {}
        self._in_progress: set[FunctionRef] = set()
        self._nested_functions: dict[ast.AST, dict[str, FunctionRef]] = {}
        self._holdings: dict[ast.ClassDef, dict[str, Value]] = {}
        self._context_vars: dict[tuple[str, str], str | None] = {}

    def callee(self, call: ast.Call, *, caller: FunctionRef) -> FunctionRef | None:
        """The function `call` runs, by import, `self.method`, or nested in the caller.

        It may live outside the scanned files (in the same source tree): its summary still
        counts, though only scanned functions are walked and judged.
        """
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in {"self", "cls"}:
            return self._project.method(ClassRef(caller.module, caller.owner), func.attr) if caller.owner else None
        if isinstance(func, ast.Name) and (nested := self._nested(caller, func.id)) is not None:
            return nested
        symbol = self._project.resolve(func, module=caller.module)
        if isinstance(symbol, ClassRef):
            # Calling a class runs its __init__; the instance is what the flow analysis follows.
            return None
        return symbol if isinstance(symbol, FunctionRef) else None

    def _nested(self, caller: FunctionRef, name: str) -> FunctionRef | None:
        if caller.node not in self._nested_functions:
            self._nested_functions[caller.node] = {
                node.name: FunctionRef(module=caller.module, node=node)
                for node in self._walker.everything(caller.node)
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
        nodes = self._walker.body(function.node)
        calls = list(self._calls(nodes, caller=function))
        return FunctionSummary(
            commits=self._affected(function, calls, direct=_method_receivers(nodes, {"commit"}), field="commits"),
            uses=self._affected(function, calls, direct=_method_receivers(nodes, SESSION_USE_METHODS), field="uses"),
            modifies=self._affected(function, calls, direct=_assigned_owners(nodes), field="modifies"),
            network_wait=self._network_wait(function, nodes),
            writes_status=self._writes_status(nodes, calls),
            starts_job=any(_is_in_progress(value) for value in status_values(nodes))
            or any(self._marks_in_progress(call, callee) for call, callee in calls),
            records_failure=self._records_failure(function, nodes),
            context_session=self._context_session(function, nodes, calls),
            rolls_back_first=_rolled_back_first(function, nodes),
        )

    def _affected(
        self, function: FunctionRef, calls: list[tuple[ast.Call, FunctionRef]], *, direct: set[str], field: str
    ) -> frozenset[str]:
        """Keys affected directly, or by being passed on to a callee that affects them."""
        found = set(direct)
        for call, callee in calls:
            effect: frozenset[str] = getattr(self.of(callee), field)
            if not effect:
                continue
            bound = {p: name for p, expr in bind_arguments(call, callee).items() if (name := dotted_name(expr))}
            found.update(key for item in effect if (key := rebased(item, bound)) is not None)
        parameters = set(function.parameter_names())
        return frozenset(key for key in found if key.partition(".")[0] in parameters)

    def _calls(self, nodes: Iterable[ast.AST], *, caller: FunctionRef) -> Iterator[tuple[ast.Call, FunctionRef]]:
        for node in nodes:
            if isinstance(node, ast.Call) and (callee := self.callee(node, caller=caller)) is not None:
                yield node, callee

    def declared_values(self, function: FunctionRef) -> dict[str, Value]:
        """What the function's own declarations say its names hold: parameters, constructors, `self`."""
        module = function.module
        values: dict[str, Value] = {}
        for name, annotation in function.annotations().items():
            value = value_of_kind(self._types.of_annotation(annotation, module=module), origin=f"parameter `{name}`")
            if value is not None:
                values[name] = value
        if function.owner is not None and function.parameter_names():
            first = function.parameter_names()[0]
            held = self.holdings(ClassRef(module, function.owner))
            values.update((f"{first}.{attribute}", value) for attribute, value in held.items())
        for node in self._walker.body(function.node):
            pairs: list[tuple[ast.expr | None, ast.expr]] = []
            if isinstance(node, ast.With | ast.AsyncWith):
                pairs = [(item.optional_vars, item.context_expr) for item in node.items]
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                pairs = [(node.targets[0], node.value)]
            for target, value_expr in pairs:
                if isinstance(target, ast.Name) and isinstance(value_expr, ast.Call):
                    made = self._factories.created(value_expr, module=module)
                    if made is not None:
                        values[target.id] = made
        return values

    def holdings(self, cls: ClassRef) -> dict[str, Value]:
        """What instances of `cls` hold in attributes, by declaration.

        `self.db: AsyncSession`, `self.db = session` for a parameter typed so, `self.http = httpx.AsyncClient()`.
        """
        if cls.node not in self._holdings:
            self._holdings[cls.node] = {}
            self._holdings[cls.node] = self._read_holdings(cls)
        return self._holdings[cls.node]

    def _read_holdings(self, cls: ClassRef) -> dict[str, Value]:
        module = cls.module
        held: dict[str, Value] = {}
        for base in self._project.base_classes(cls):
            held.update(self.holdings(base))
        for statement in cls.node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                info = self._types.of_annotation(statement.annotation, module=module)
                declared = value_of_kind(info, origin=f"attribute `{statement.target.id}`")
                if declared is not None:
                    held[statement.target.id] = declared
        for method in (s for s in cls.node.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)):
            function = FunctionRef(module=module, node=method, owner=cls.node)
            annotations = function.annotations()
            for node in self._walker.body(method):
                target, value_expr, annotation = _self_assignment(node)
                if target is None:
                    continue
                origin = f"attribute `self.{target}`"
                value: Value | None = None
                if annotation is not None:
                    value = value_of_kind(self._types.of_annotation(annotation, module=module), origin=origin)
                elif isinstance(value_expr, ast.Name) and value_expr.id in annotations:
                    info = self._types.of_annotation(annotations[value_expr.id], module=module)
                    value = value_of_kind(info, origin=origin)
                elif isinstance(value_expr, ast.Call):
                    value = self._factories.created(value_expr, module=module)
                if value is not None:
                    held.setdefault(target, value)
        return held

    def _network_wait(self, function: FunctionRef, nodes: list[ast.AST]) -> str | None:
        declared = self.declared_values(function)

        def value_of(expr: ast.expr) -> Value | None:
            name = dotted_name(expr)
            if name is not None and name in declared:
                return declared[name]
            if isinstance(expr, ast.Call):
                callee = self.callee(expr, caller=function)
                if callee is not None:
                    return self._factories.made_by_function(callee)
                return self._factories.created(expr, module=function.module)
            return None

        module, project = function.module, self._project
        in_async = isinstance(function.node, ast.AsyncFunctionDef)
        awaited = {id(node.value) for node in nodes if isinstance(node, ast.Await)}
        for node in nodes:
            if isinstance(node, ast.Await | ast.AsyncFor):
                waited = node.value if isinstance(node, ast.Await) else node.iter
                if not isinstance(waited, ast.Call):
                    continue
                call = awaited_call(waited, module=module, project=project)
                work_of = self.thread_work(caller=function, value_of=value_of)
                wait = direct_wait(call, module=module, project=project, value_of=value_of, work_of=work_of)
                callee = self.callee(call, caller=function)
                if wait is None and callee is not None and (inner := self.of(callee).network_wait):
                    wait = f"{callee.qualname}() -> {inner}"
                if wait is not None:
                    return wait
            elif isinstance(node, ast.Call) and id(node) not in awaited:
                wait = blocking_wait(node, module=module, project=project, value_of=value_of)
                if wait is None and not in_async and (callee := self.callee(node, caller=function)) is not None:
                    # A sync helper that blocks blocks its caller too.
                    inner = self.of(callee).network_wait
                    wait = f"{callee.qualname}() -> {inner}" if inner and inner.startswith("blocking") else None
                if wait is not None:
                    return wait
        return None

    def thread_work(
        self,
        *,
        caller: FunctionRef,
        value_of: Callable[[ast.expr], Value | None],
        callee_of: Callable[[ast.Call], FunctionRef | None] | None = None,
    ) -> Callable[[ast.expr], str | None]:
        """What a function handed to a thread (`to_thread(fn)`) waits on, if it does network I/O."""

        def work_of(expr: ast.expr) -> str | None:
            if not isinstance(expr, ast.Name | ast.Attribute):
                return None
            symbol = self._project.resolve(expr, module=caller.module)
            if isinstance(symbol, ExternalRef) and is_network_call(symbol.qualified_name, awaited=False):
                return f"{symbol.qualified_name}()"
            if isinstance(expr, ast.Attribute):
                client = value_of(expr.value)
                if isinstance(client, ClientValue) and (client.methods is None or expr.attr in client.methods):
                    return f"{client.label} {ast.unparse(expr)}()"
            call = ast.Call(func=expr, args=[], keywords=[])
            callee = (callee_of or (lambda c: self.callee(c, caller=caller)))(call)
            return self.of(callee).network_wait if callee is not None else None

        return work_of

    def _marks_in_progress(self, call: ast.Call, callee: FunctionRef) -> bool:
        """A call that marks a job in progress: the callee does, or it writes the status it is given
        and is given one in progress (`set_status(job_id, "processing")`)."""
        summary = self.of(callee)
        if summary.starts_job:
            return True
        given = [*call.args, *(item.value for item in call.keywords)]
        return summary.writes_status and any(_is_in_progress(argument) for argument in given)

    def _writes_status(self, nodes: list[ast.AST], calls: list[tuple[ast.Call, FunctionRef]]) -> bool:
        if any(True for _ in status_values(nodes)):
            return True
        return any(self.of(callee).writes_status for _, callee in calls)

    def writes_status(self, statements: list[ast.stmt], *, caller: FunctionRef, terminal: bool = False) -> bool:
        """Whether `statements` set a status (a terminal one, with `terminal`), directly or by a call."""
        nodes = self._walker.within(statements, scope=caller.node)
        values = list(status_values(nodes))
        if any(not (terminal and _is_in_progress(value)) for value in values):
            return True
        return any(self.of(callee).writes_status for _, callee in self._calls(nodes, caller=caller))

    def _records_failure(self, function: FunctionRef, nodes: list[ast.AST]) -> bool:
        for node in nodes:
            if not isinstance(node, ast.Try | ast.TryStar):
                continue
            guarded = [handler.body for handler in node.handlers if is_broad_handler(handler)] + [node.finalbody]
            if any(self.writes_status(block, caller=function) for block in guarded):
                return True
        return False

    def _context_session(
        self, function: FunctionRef, nodes: list[ast.AST], calls: list[tuple[ast.Call, FunctionRef]]
    ) -> str | None:
        """The session-holding ContextVar the function reads (`var.get()`), directly or by a call."""
        for node in nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
                held = self.context_var(node.func.value, module=function.module)
                if held is not None:
                    return held.name
        return next((name for _, callee in calls if (name := self.of(callee).context_session)), None)

    def context_var(self, expr: ast.expr, *, module: SourceModule) -> ContextVarValue | None:
        """`expr` as a module-level ContextVar that holds sessions: typed so, or set to a session."""
        symbol = self._project.resolve(expr, module=module)
        if not (isinstance(symbol, AssignmentRef) and isinstance(symbol.value, ast.Call)):
            return None
        key = (symbol.module.name, symbol.name)
        if key not in self._context_vars:
            self._context_vars[key] = self._session_context_var(symbol)
        name = self._context_vars[key]
        return ContextVarValue(name=name) if name else None

    def _session_context_var(self, symbol: AssignmentRef) -> str | None:
        call = symbol.value
        assert isinstance(call, ast.Call)
        constructor = call.func.value if isinstance(call.func, ast.Subscript) else call.func
        made = self._project.resolve(constructor, module=symbol.module)
        if not (isinstance(made, ExternalRef) and made.qualified_name == "contextvars.ContextVar"):
            return None
        typed: list[ast.expr] = [call.func] if isinstance(call.func, ast.Subscript) else []
        typed += self._annotation_of(symbol)
        if any(self._types.of_annotation(t, module=symbol.module) is Kind.session for t in typed):
            return symbol.name
        return symbol.name if self._set_to_session(symbol) else None

    def _annotation_of(self, symbol: AssignmentRef) -> list[ast.expr]:
        return [
            statement.annotation
            for statement in symbol.module.tree.body
            if isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == symbol.name
        ]

    def _set_to_session(self, symbol: AssignmentRef) -> bool:
        """`var.set(session)` somewhere in its module, with a session known by its declaration."""
        if f"{symbol.name}.set(" not in symbol.module.text:
            return False
        for function in self._project.functions(symbol.module):
            declared: dict[str, Value] | None = None
            for node in self._walker.body(function.node):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "set"
                    and dotted_name(node.func.value) == symbol.name
                    and node.args
                ):
                    continue
                declared = declared if declared is not None else self.declared_values(function)
                if isinstance(declared.get(dotted_name(node.args[0]) or ""), SessionValue):
                    return True
        return False


def _rolled_back_first(function: FunctionRef, nodes: list[ast.AST]) -> frozenset[str]:
    """Session parameters whose first operation in the function is `rollback()`."""
    parameters = set(function.parameter_names())
    first: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = dotted_name(node.func.value)
            if (
                name is not None
                and name.partition(".")[0] in parameters
                and node.func.attr in SESSION_USE_METHODS | {"commit", "rollback"}
            ):
                first.setdefault(name, node.func.attr)
    return frozenset(name for name, method in first.items() if method == "rollback")


def _self_assignment(node: ast.AST) -> tuple[str | None, ast.expr | None, ast.expr | None]:
    """`self.x = value` or `self.x: T = value`: the attribute, the value and the annotation."""
    target: ast.expr
    value: ast.expr | None
    annotation: ast.expr | None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value, annotation = node.targets[0], node.value, None
    elif isinstance(node, ast.AnnAssign):
        target, value, annotation = node.target, node.value, node.annotation
    else:
        return None, None, None
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return target.attr, value, annotation
    return None, None, None


def _method_receivers(nodes: Iterable[ast.AST], methods: set[str] | frozenset[str]) -> set[str]:
    """What `x.method(...)` is called on, as dotted names (`session`, `self.session`), for `methods`."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
            name = dotted_name(node.func.value)
            if name is not None:
                found.add(name)
    return found


def _assigned_owners(nodes: Iterable[ast.AST]) -> set[str]:
    """Names whose attributes are assigned: `job` in `job.status = ...` or `job.count += 1`."""
    owners = set()
    for node in nodes:
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                    owners.add(target.value.id)
    return owners


def status_values(nodes: Iterable[ast.AST]) -> Iterator[ast.expr]:
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
        node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        else last_name(node)
        if isinstance(node, ast.expr)
        else None
        for node in ast.walk(value)
    )
    return any((name or "").lower() in IN_PROGRESS_STATUSES for name in names)
