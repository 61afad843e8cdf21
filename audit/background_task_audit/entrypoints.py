"""Finding background entry points: the functions that run as background work.

Two shapes. A scheduling call hands a function to an executor: `add_task` on FastAPI's
`BackgroundTasks`, a Starlette `BackgroundTask(...)` (given as a response's `background=`),
the `create_task` family and task groups, thread pools (`run_in_threadpool`, `to_thread`,
`run_in_executor`), APScheduler's `add_job`, including the ones in startup handlers and
lifespans. A registration makes a function a task for an engine: procrastinate/Celery
`@app.task`, `@shared_task`, taskiq `@broker.task`, dramatiq `@actor`, arq
`WorkerSettings.functions`.

A started function chosen through a local variable is followed to what the variable was
given. One the audit cannot tell (a parameter, a mapping, a function outside the scanned
files) is reported once as not analysed, with the reason.
"""

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from background_task_audit.findings import Location
from background_task_audit.kinds import Kind, Types
from background_task_audit.project import ClassRef, ExternalRef, FunctionRef, ModuleRef, Project
from background_task_audit.sources import SourceModule
from background_task_audit.summaries import Summaries
from background_task_audit.syntax import Walker, calls_by_function, dotted_name, last_name, module_level_statements

THREAD_RUNNERS = frozenset({"asyncio.to_thread", "anyio.to_thread.run_sync"})
TASK_CREATORS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
BACKGROUND_TASK_CLASSES = frozenset({"starlette.background.BackgroundTask", "fastapi.background.BackgroundTask"})
# Last names of every call `_classify` recognises, to skip the others cheaply.
STARTER_NAMES = frozenset(
    {"create_task", "ensure_future", "add_task", "run_in_threadpool", "to_thread", "run_sync", "run_in_executor"}
    | {"start_soon", "BackgroundTask", "add_job"}
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
    function: FunctionRef
    sites: tuple[SchedulingSite, ...] = ()

    @property
    def location(self) -> Location:
        node = self.function.node
        return Location(self.function.module.display_path, node.lineno, node.col_offset + 1)


@dataclass(frozen=True)
class UnresolvedSite:
    """A place that starts background work the audit cannot follow, and why."""

    site: SchedulingSite
    reason: str
    outside: bool = False  # a library's function (`gzip.decompress`): nothing of the project to analyse


@dataclass(frozen=True)
class Discovery:
    entries: list[DiscoveredEntry]
    unresolved: list[UnresolvedSite]

    def sites(self) -> Iterator[tuple[SchedulingSite, FunctionRef | None]]:
        for entry in self.entries:
            for site in entry.sites:
                yield site, entry.function
        for unresolved in self.unresolved:
            yield unresolved.site, None


class EntryPointFinder:
    def __init__(self, project: Project, summaries: Summaries, types: Types, walker: Walker) -> None:
        self._project = project
        self._summaries = summaries
        self._types = types
        self._walker = walker

    def find(self) -> Discovery:
        sites = [site for module in self._project.analysed for site in self._sites(module)]
        registered = [entry for module in self._project.analysed for entry in self._registered(module)]
        by_function: dict[FunctionRef, list[SchedulingSite]] = defaultdict(list)
        unresolved = []
        for site in sites:
            functions, reason = self.targets(site)
            for function in functions:
                by_function[function].append(site)
            if not functions:
                outside = self._is_library_function(site)
                unresolved.append(UnresolvedSite(site=site, reason=reason, outside=outside))
        entries = {
            function: DiscoveredEntry(
                name=function.qualname, kind=grouped[0].kind, function=function, sites=tuple(grouped)
            )
            for function, grouped in by_function.items()
        }
        for entry in registered:
            entries.setdefault(entry.function, entry)
        ordered = sorted(entries.values(), key=lambda e: (e.location, e.name))
        return Discovery(entries=ordered, unresolved=unresolved)

    def targets(self, site: SchedulingSite) -> tuple[list[FunctionRef], str]:
        """The scanned functions a site starts, or none and the reason."""
        if site.target_call is None:
            given = ast.unparse(site.call.args[0]) if site.call.args else "nothing"
            return [], f"the work is given as `{given}`, not as a function and its arguments"
        func = site.target_call.func
        if isinstance(func, ast.Lambda):
            return [], "it runs a lambda"
        candidates = self._chosen(func, site.enclosing)
        if not candidates:
            return [], self._why_not(func, site)
        found: list[FunctionRef] = []
        outside: list[str] = []
        for candidate in candidates:
            function = self._function(site.target_call, candidate, site)
            if function is None:
                return [], self._why_not(candidate, site)
            if not self._project.is_scanned(function.module):
                outside.append(function.qualname)
            else:
                found.append(function)
        if outside and not found:
            return [], f"`{outside[0]}` is defined outside the scanned files"
        return found, ""

    def _is_library_function(self, site: SchedulingSite) -> bool:
        func = site.target_call.func if site.target_call is not None else None
        if func is None:
            return False
        return isinstance(self._project.resolve(func, module=site.module), ExternalRef)

    def _chosen(self, func: ast.expr, function: FunctionRef) -> list[ast.expr]:
        """What a local variable naming the task was given: `job = process_a if x else process_b`."""
        if not (isinstance(func, ast.Name) and func.id in _assigned_names(function, self._walker)):
            return [func]
        values: list[ast.expr] = []
        for node in self._walker.body(function.node):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == func.id for t in node.targets):
                values.extend(_alternatives(node.value))
        return [value for value in values if isinstance(value, ast.Name | ast.Attribute)] if values else []

    def _function(self, call: ast.Call, func: ast.expr, site: SchedulingSite) -> FunctionRef | None:
        """The function `func` names: by name, import, or the method of the receiver's class."""
        found = self._summaries.callee(
            ast.Call(func=func, args=call.args, keywords=call.keywords), caller=site.enclosing
        )
        if found is None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            found = self._method_of_local(func.value.id, func.attr, function=site.enclosing)
        return found

    def _why_not(self, func: ast.expr, site: SchedulingSite) -> str:
        spelled = ast.unparse(func)
        symbol = self._project.resolve(func, module=site.module)
        if isinstance(symbol, ExternalRef):
            return f"`{symbol.qualified_name}` is defined outside the scanned files"
        if isinstance(func, ast.Name) and func.id in site.enclosing.parameter_names():
            return f"`{spelled}` is a parameter: the function is chosen by the caller"
        if isinstance(func, ast.Name) and func.id in _assigned_names(site.enclosing, self._walker):
            return f"`{spelled}` is chosen at run time"
        if isinstance(func, ast.Attribute):
            return f"`{spelled}` is a method of an object whose class the audit cannot tell"
        if isinstance(func, ast.Subscript):
            return f"`{spelled}` is chosen from a mapping at run time"
        return f"`{spelled}` does not name a function the audit can find"

    def _method_of_local(self, name: str, method: str, *, function: FunctionRef) -> FunctionRef | None:
        """`service.run` where `service = Service(...)` or `service: Service`: that class's method.

        With nothing said about the local's class, the one scanned method of that name.
        """
        module = function.module
        made_by = [
            node.value.func
            for node in self._walker.body(function.node)
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
        calls = calls_by_function(module.tree, STARTER_NAMES)
        for function in self._project.functions(module):
            context = startup.get(function.node)
            for node in calls.get(id(function.node), []):
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
            result_kept=self._result_kept(call, function=function),
        )

    def _classify(
        self, call: ast.Call, *, module: SourceModule, function: FunctionRef
    ) -> tuple[str | None, ast.Call | None]:
        if last_name(call.func) not in STARTER_NAMES:
            return None, None
        symbol = self._project.resolve(call.func, module=module)
        qualified = symbol.qualified_name if isinstance(symbol, ExternalRef) else None
        method = call.func.attr if isinstance(call.func, ast.Attribute) else None
        if qualified in TASK_CREATORS or (method in {"create_task", "ensure_future"} and symbol is None):
            receiver = call.func.value if isinstance(call.func, ast.Attribute) else call.func
            return qualified or _creator_kind(receiver), self._coroutine_call(call, function)
        if (
            isinstance(call.func, ast.Attribute)
            and method == "add_task"
            and self._is_background_tasks(call.func, function=function)
        ):
            return "BackgroundTasks.add_task", _applied(call.args, call.keywords)
        if qualified in BACKGROUND_TASK_CLASSES:
            return "BackgroundTask", _applied(call.args, call.keywords)
        if qualified in THREAD_RUNNERS:
            return qualified, _applied(call.args, call.keywords)
        if (qualified or "").endswith(".run_in_threadpool"):
            return "run_in_threadpool", _applied(call.args, call.keywords)
        if method == "run_in_executor" and len(call.args) >= 2:
            return "loop.run_in_executor", _applied(call.args[1:], call.keywords)
        if method == "start_soon" and call.args:
            return "TaskGroup.create_task", _applied(call.args, call.keywords)
        if method == "add_job" and call.args and "apscheduler" in module.text:
            return "apscheduler add_job", _applied(call.args[:1], [])
        return None, None

    def _coroutine_call(self, call: ast.Call, function: FunctionRef) -> ast.Call | None:
        """The coroutine call a task runs: given inline, or bound to a local name first."""
        if not call.args:
            return None
        given = call.args[0]
        if isinstance(given, ast.Call):
            return given
        if isinstance(given, ast.Name):
            bound = [
                node.value
                for node in self._walker.body(function.node)
                if isinstance(node, ast.Assign) and _binds(node, given.id) and isinstance(node.value, ast.Call)
            ]
            return bound[-1] if len(bound) == 1 else None
        return None

    def _is_background_tasks(self, func: ast.Attribute, *, function: FunctionRef) -> bool:
        """A receiver typed `BackgroundTasks`, made by `BackgroundTasks()`, or named like one."""
        receiver = func.value
        if isinstance(receiver, ast.Name):
            annotation = function.annotations().get(receiver.id)
            if annotation is not None:
                return self._types.of_annotation(annotation, module=function.module) is Kind.background_tasks
        name = (dotted_name(receiver) or "").lower()
        return any(part in name for part in ("task", "background", "bg"))

    def _result_kept(self, call: ast.Call, *, function: FunctionRef) -> bool:
        """Whether the task object outlives the statement: stored, awaited, returned or passed on."""
        nodes = self._walker.body(function.node)
        parent = self._walker.parent(call, scope=function.node)
        if isinstance(parent, ast.Expr):
            return False
        if isinstance(parent, ast.Assign) and all(isinstance(target, ast.Name) for target in parent.targets):
            names = {target.id for target in parent.targets if isinstance(target, ast.Name)}
            declared = {name for node in nodes if isinstance(node, ast.Global | ast.Nonlocal) for name in node.names}
            if names & declared:
                return True  # kept in a module global (or the enclosing function's name)
            return any(
                isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names for node in nodes
            )
        return True

    def _startup_functions(self, module: SourceModule) -> dict[ast.AST, str]:
        """Functions run at app start: `@app.on_event("startup")`, `on_startup=[...]`, lifespans."""
        found: dict[ast.AST, str] = {}
        if not module.mentions(("on_event", "lifespan", "on_startup", "add_event_handler")):
            return found
        for function in self._project.functions(module):
            if any(_is_startup_event(decorator) for decorator in function.node.decorator_list):
                found[function.node] = "at startup"
            if function.node.name == "lifespan":
                found[function.node] = "in lifespan"
        for node in self._walker.everything(module.tree):
            if not isinstance(node, ast.Call):
                continue
            handlers: list[tuple[str, ast.expr]] = []
            if last_name(node.func) == "add_event_handler" and len(node.args) == 2:
                event = node.args[0]
                if isinstance(event, ast.Constant) and event.value == "startup":
                    handlers.append(("at startup", node.args[1]))
            for keyword in node.keywords:
                context = {"lifespan": "in lifespan", "on_startup": "at startup"}.get(keyword.arg or "")
                given = keyword.value.elts if isinstance(keyword.value, ast.List | ast.Tuple) else [keyword.value]
                handlers += [(context, handler) for handler in given] if context else []
            for context, handler in handlers:
                symbol = self._project.resolve(handler, module=module)
                if isinstance(symbol, FunctionRef):
                    found[symbol.node] = context
        return found

    def _registered(self, module: SourceModule) -> Iterator[DiscoveredEntry]:
        if not module.mentions(TASK_DECORATORS | {"functions", "cron_jobs"}):
            return
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
        symbol = self._project.resolve(target, module=module)
        if isinstance(symbol, FunctionRef):
            # The project's own decorator around an engine's (`@actor` wrapping `dramatiq.actor`).
            engine = self._wrapped_engine(symbol)
            return f"@{ast.unparse(target)} ({engine})" if engine else None
        if isinstance(target, ast.Name):
            symbol = self._project.resolve(target, module=module)
            from_engine = isinstance(symbol, ExternalRef) and symbol.qualified_name.partition(".")[0] in TASK_ENGINES
            if not from_engine:
                return None
        elif isinstance(target, ast.Attribute):
            owner = self._project.resolve(target.value, module=module)
            if isinstance(owner, ModuleRef | ClassRef | FunctionRef):
                return None  # `module.task`: a function of the scanned code, not a task engine
        return f"@{ast.unparse(target)}"

    def _wrapped_engine(self, decorator: FunctionRef) -> str | None:
        """The task engine a decorator of the project registers functions with, if it does."""
        for node in self._walker.everything(decorator.node):
            if isinstance(node, ast.Name | ast.Attribute):
                symbol = self._project.resolve(node, module=decorator.module)
                if isinstance(symbol, ExternalRef) and symbol.qualified_name.partition(".")[0] in TASK_ENGINES:
                    return symbol.qualified_name.partition(".")[0]
        return None

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


def _assigned_names(function: FunctionRef, walker: Walker) -> set[str]:
    return {
        target.id
        for node in walker.body(function.node)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _alternatives(value: ast.expr) -> list[ast.expr]:
    """`a if c else b` is `a` or `b`."""
    if isinstance(value, ast.IfExp):
        return [*_alternatives(value.body), *_alternatives(value.orelse)]
    return [value]


def _creator_kind(receiver: ast.expr) -> str:
    return "loop.create_task" if "loop" in (last_name(receiver) or "").lower() else "TaskGroup.create_task"


def _applied(arguments: list[ast.expr], keywords: list[ast.keyword]) -> ast.Call | None:
    """`fn(*rest)` built from `executor(fn, *rest)`; `functools.partial(fn, a)` unwrapped."""
    if not arguments or isinstance(arguments[0], ast.Starred):
        return None
    target, rest = arguments[0], list(arguments[1:])
    if isinstance(target, ast.Call) and last_name(target.func) == "partial" and target.args:
        return _applied([*target.args, *rest], [*target.keywords, *keywords])
    applied = ast.Call(func=target, args=rest, keywords=[k for k in keywords if k.arg is not None])
    return ast.copy_location(applied, target)


def _binds(assignment: ast.Assign, name: str) -> bool:
    return any(isinstance(target, ast.Name) and target.id == name for target in assignment.targets)


def _is_startup_event(decorator: ast.expr) -> bool:
    """`@app.on_event("startup")`."""
    if not (isinstance(decorator, ast.Call) and last_name(decorator.func) == "on_event" and decorator.args):
        return False
    event = decorator.args[0]
    return isinstance(event, ast.Constant) and event.value == "startup"
