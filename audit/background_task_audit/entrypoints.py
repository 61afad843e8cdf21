"""Finding background entry points: the functions that run as background work.

Two shapes. A scheduling call hands a function to an executor: `add_task`, the
`create_task` family, thread pools (`run_in_threadpool`, `to_thread`, `run_in_executor`),
including the ones in startup handlers and lifespans. A registration makes a function a
task for an engine: procrastinate/Celery `@app.task`, `@shared_task`, taskiq
`@broker.task`, dramatiq `@actor`, arq `WorkerSettings.functions`.
"""

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from background_task_audit.findings import Location
from background_task_audit.project import ClassRef, ExternalRef, FunctionRef, Project
from background_task_audit.sources import SourceModule
from background_task_audit.summaries import Summaries
from background_task_audit.syntax import (
    all_nodes,
    body_nodes,
    dotted_name,
    last_name,
    module_level_statements,
)

THREAD_RUNNERS = frozenset({"asyncio.to_thread", "anyio.to_thread.run_sync"})
TASK_CREATORS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
# Last names of every call `_classify` recognises, to skip the others cheaply.
STARTER_NAMES = frozenset(
    {"create_task", "ensure_future", "add_task", "run_in_threadpool", "to_thread", "run_sync", "run_in_executor"}
    | {"start_soon"}
)
TASK_DECORATORS = frozenset({"task", "shared_task", "actor", "periodic"})
# Where a bare `@task` / `@shared_task` / `@actor` must come from to count (locust has a `@task` too).
TASK_ENGINES = frozenset({"celery", "procrastinate", "taskiq", "dramatiq", "huey"})
# Kinds whose task runs beside the code that started it, not after the response.
CONCURRENT_KINDS = frozenset(
    {"asyncio.create_task", "asyncio.ensure_future", "loop.create_task", "TaskGroup.create_task"}
)
# Kinds whose creator must keep a reference to the task (a TaskGroup keeps its own).
UNOWNED_KINDS = frozenset({"asyncio.create_task", "asyncio.ensure_future", "loop.create_task"})


@dataclass(frozen=True)
class SchedulingSite:
    """A call that starts a function as background work."""

    module: SourceModule
    call: ast.Call
    kind: str
    target_call: ast.Call | None  # the target applied to its arguments (built for add_task-style calls)
    enclosing: FunctionRef
    result_kept: bool

    @property
    def concurrent(self) -> bool:
        return self.kind.partition(" ")[0] in CONCURRENT_KINDS

    @property
    def owns_reference(self) -> bool:
        return self.kind.partition(" ")[0] not in UNOWNED_KINDS

    @property
    def target_label(self) -> str:
        if self.target_call is not None:
            return ast.unparse(self.target_call.func)
        return ast.unparse(self.call.args[0]) if self.call.args else "?"

    @property
    def location(self) -> Location:
        return Location(self.module.display_path, self.call.lineno, self.call.col_offset + 1)


@dataclass(frozen=True)
class DiscoveredEntry:
    """One background function and every place that starts or registers it."""

    name: str
    kind: str
    function: FunctionRef | None
    sites: tuple[SchedulingSite, ...] = ()

    @property
    def location(self) -> Location | None:
        if self.function is None:
            return None
        node = self.function.node
        return Location(self.function.module.display_path, node.lineno, node.col_offset + 1)


class EntryPointFinder:
    def __init__(self, project: Project, summaries: Summaries) -> None:
        self._project = project
        self._summaries = summaries

    def find(self) -> list[DiscoveredEntry]:
        sites = [site for module in self._project.modules for site in self._sites(module)]
        registered = [entry for module in self._project.modules for entry in self._registered(module)]
        return _group(sites=sites, registered=registered, resolve=self.target_function)

    def target_function(self, site: SchedulingSite) -> FunctionRef | None:
        """The scanned function a site starts: by name, import, or the method of the receiver's class."""
        if site.target_call is None:
            return None
        func = site.target_call.func
        found = self._summaries.callee(site.target_call, caller=site.enclosing)
        if found is None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            found = self._method_of_local(func.value.id, func.attr, function=site.enclosing)
        return found if found is not None and self._project.is_scanned(found.module) else None

    def _method_of_local(self, name: str, method: str, *, function: FunctionRef) -> FunctionRef | None:
        """`service.run` where `service = Service(...)` or `service: Service`: that class's method.

        With nothing said about the local's class, the one scanned method of that name.
        """
        module = function.module
        made_by = [
            node.value.func
            for node in body_nodes(function.node)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _binds(node, name)
        ]
        declared = [
            annotation for parameter, annotation in function.annotations().items() if parameter == name and annotation
        ]
        classes = [self._project.resolve(expr, module=module) for expr in made_by + declared]
        known = [symbol for symbol in classes if isinstance(symbol, ClassRef)]
        if known:
            return self._project.method(known[-1], method)
        if classes:
            return None  # an instance of something outside the tree
        candidates = self._project.methods_named(method)
        return candidates[0] if len(candidates) == 1 else None

    def _sites(self, module: SourceModule) -> Iterator[SchedulingSite]:
        if not module.mentions(STARTER_NAMES):
            return
        startup = self._startup_functions(module)
        for function in self._project.functions(module):
            context = startup.get(function.node)
            for node in body_nodes(function.node):
                if isinstance(node, ast.Call):
                    site = self._site(node, module=module, function=function)
                    if site is not None:
                        yield site if context is None else replace(site, kind=f"{site.kind} {context}")

    def _site(self, call: ast.Call, *, module: SourceModule, function: FunctionRef) -> SchedulingSite | None:
        kind, target_call = self._classify(call, module=module, function=function)
        if kind is None:
            return None
        return SchedulingSite(
            module=module,
            call=call,
            kind=kind,
            target_call=target_call,
            enclosing=function,
            result_kept=_result_kept(call, function=function),
        )

    def _classify(
        self, call: ast.Call, *, module: SourceModule, function: FunctionRef
    ) -> tuple[str | None, ast.Call | None]:
        if last_name(call.func) not in STARTER_NAMES:
            return None, None
        symbol = self._project.resolve(call.func, module=module)
        qualified = symbol.qualified_name if isinstance(symbol, ExternalRef) else None
        method = call.func.attr if isinstance(call.func, ast.Attribute) else None
        if qualified in TASK_CREATORS or (method == "create_task" and symbol is None):
            return qualified or _creator_kind(call.func.value), _coroutine_call(call)
        if method == "add_task" and _is_background_tasks(call.func.value, function=function):
            return "BackgroundTasks.add_task", _applied(call.args, call.keywords)
        if qualified in THREAD_RUNNERS:
            return qualified, _applied(call.args, call.keywords)
        if (qualified or "").endswith(".run_in_threadpool"):
            return "run_in_threadpool", _applied(call.args, call.keywords)
        if method == "run_in_executor" and len(call.args) >= 2:
            return "loop.run_in_executor", _applied(call.args[1:], call.keywords)
        if method == "start_soon" and call.args:
            return "TaskGroup.create_task", _applied(call.args, call.keywords)
        return None, None

    def _startup_functions(self, module: SourceModule) -> dict[ast.AST, str]:
        """Functions run at app start: `@app.on_event("startup")`, `on_startup=[...]`, lifespans."""
        found: dict[ast.AST, str] = {}
        if not module.mentions(("on_event", "lifespan", "on_startup")):
            return found
        for function in self._project.functions(module):
            if any(_is_startup_event(decorator) for decorator in function.node.decorator_list):
                found[function.node] = "at startup"
            if function.node.name == "lifespan":
                found[function.node] = "in lifespan"
        for node in all_nodes(module.tree):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                handlers = keyword.value.elts if isinstance(keyword.value, ast.List | ast.Tuple) else [keyword.value]
                context = {"lifespan": "in lifespan", "on_startup": "at startup"}.get(keyword.arg or "")
                for handler in handlers if context else []:
                    symbol = self._project.resolve(handler, module=module)
                    if isinstance(symbol, FunctionRef):
                        found[symbol.node] = context
        return found

    def _registered(self, module: SourceModule) -> Iterator[DiscoveredEntry]:
        for function in self._project.functions(module):
            kinds = (self._registration(decorator, module=module) for decorator in function.node.decorator_list)
            kind = next((kind for kind in kinds if kind is not None), None)
            if kind is not None:
                yield DiscoveredEntry(name=function.qualname, kind=kind, function=function)
        yield from self._arq_functions(module)

    def _registration(self, decorator: ast.expr, *, module: SourceModule) -> str | None:
        """`@app.task`, `@broker.task(...)`, `@dramatiq.actor`, or a bare one imported from a task engine."""
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if last_name(target) not in TASK_DECORATORS:
            return None
        if isinstance(target, ast.Name):
            symbol = self._project.resolve(target, module=module)
            from_engine = isinstance(symbol, ExternalRef) and symbol.qualified_name.partition(".")[0] in TASK_ENGINES
            if not from_engine:
                return None
        return f"@{ast.unparse(target)}"

    def _arq_functions(self, module: SourceModule) -> Iterator[DiscoveredEntry]:
        """Functions listed in a module-level class's `functions` or `cron_jobs` (arq's WorkerSettings)."""
        for node in module_level_statements(module.tree.body):
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.List | ast.Tuple)):
                    continue
                attribute = next((t.id for t in statement.targets if isinstance(t, ast.Name)), None)
                if attribute not in {"functions", "cron_jobs"}:
                    continue
                for element in statement.value.elts:
                    reference = element.args[0] if isinstance(element, ast.Call) and element.args else element
                    symbol = self._project.resolve(reference, module=module)
                    if isinstance(symbol, FunctionRef):
                        kind = f"arq {node.name}.{attribute}"
                        yield DiscoveredEntry(name=symbol.qualname, kind=kind, function=symbol)


def _group(*, sites: list[SchedulingSite], registered: list[DiscoveredEntry], resolve) -> list[DiscoveredEntry]:
    by_target: dict[object, list[SchedulingSite]] = defaultdict(list)
    functions: dict[object, FunctionRef | None] = {}
    for site in sites:
        function = resolve(site)
        key = function if function is not None else (site.module.name, site.target_label)
        by_target[key].append(site)
        functions[key] = function
    entries = {
        key: DiscoveredEntry(
            name=functions[key].qualname if functions[key] else grouped[0].target_label,
            kind=grouped[0].kind,
            function=functions[key],
            sites=tuple(grouped),
        )
        for key, grouped in by_target.items()
    }
    for entry in registered:
        entries.setdefault(entry.function, entry)
    return sorted(entries.values(), key=lambda e: (e.location or Location("", 0, 0), e.name))


def _creator_kind(receiver: ast.expr) -> str:
    return "loop.create_task" if "loop" in (last_name(receiver) or "").lower() else "TaskGroup.create_task"


def _coroutine_call(call: ast.Call) -> ast.Call | None:
    return call.args[0] if call.args and isinstance(call.args[0], ast.Call) else None


def _applied(arguments: list[ast.expr], keywords: list[ast.keyword]) -> ast.Call | None:
    """`fn(*rest)` built from `executor(fn, *rest)`; `functools.partial(fn, a)` unwrapped."""
    if not arguments or isinstance(arguments[0], ast.Starred):
        return None
    target, rest = arguments[0], list(arguments[1:])
    if isinstance(target, ast.Call) and last_name(target.func) == "partial" and target.args:
        return _applied([*target.args, *rest], [*target.keywords, *keywords])
    applied = ast.Call(func=target, args=rest, keywords=[k for k in keywords if k.arg is not None])
    return ast.copy_location(applied, target)


def _is_background_tasks(receiver: ast.expr, *, function: FunctionRef) -> bool:
    name = (dotted_name(receiver) or "").lower()
    if any(part in name for part in ("task", "background", "bg")):
        return True
    annotation = function.annotations().get(receiver.id) if isinstance(receiver, ast.Name) else None
    return annotation is not None and last_name(annotation) == "BackgroundTasks"


def _binds(assignment: ast.Assign, name: str) -> bool:
    return any(isinstance(target, ast.Name) and target.id == name for target in assignment.targets)


def _is_startup_event(decorator: ast.expr) -> bool:
    """`@app.on_event("startup")`."""
    if not (isinstance(decorator, ast.Call) and last_name(decorator.func) == "on_event" and decorator.args):
        return False
    event = decorator.args[0]
    return isinstance(event, ast.Constant) and event.value == "startup"


def _result_kept(call: ast.Call, *, function: FunctionRef) -> bool:
    """Whether the task object outlives the statement: stored, awaited, returned or passed on."""
    parent = next((node for node in all_nodes(function.node) if call in ast.iter_child_nodes(node)), None)
    if isinstance(parent, ast.Expr):
        return False
    if isinstance(parent, ast.Assign) and all(isinstance(target, ast.Name) for target in parent.targets):
        names = {target.id for target in parent.targets}
        return any(
            isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names
            for node in all_nodes(function.node)
        )
    return True
