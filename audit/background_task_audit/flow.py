"""The flow analysis: one function walked statement by statement, tracking sessions and ORM objects.

A may-analysis, kept simple on purpose: branches are walked separately and joined (a risk
on one path is a risk), loop bodies twice (the second pass sees what the first left), and
`except` blocks from the state before and after the `try` body. Calls into scanned
functions are followed with the values of their arguments, a few levels deep. What it
observes goes to the checks as events.
"""

import ast
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from functools import reduce

from background_task_audit.entrypoints import SchedulingSite
from background_task_audit.events import (
    AttributeRead,
    ConcurrentSessionUse,
    FlowEvent,
    JsonMutation,
    LongLivedSessionUse,
    NetworkWaitWhileHolding,
    TaskHandoff,
)
from background_task_audit.network import (
    awaited_call,
    direct_network_wait,
    is_http_client_constructor,
)
from background_task_audit.orm import ModelCatalog
from background_task_audit.project import (
    AssignmentRef,
    ClassRef,
    ExternalRef,
    FunctionRef,
    Project,
)
from background_task_audit.queries import eager_relationships, query_call, row
from background_task_audit.sessions import SessionFactories, keyword
from background_task_audit.summaries import (
    SESSION_WORK_METHODS,
    Summaries,
    bind_arguments,
)
from background_task_audit.syntax import all_nodes, body_nodes, dotted_name, last_name
from background_task_audit.values import (
    AwaitableAttrsValue,
    FlowState,
    HolderValue,
    HttpClientValue,
    OrmValue,
    QueryValue,
    SessionValue,
    TupleValue,
    Value,
)

MAX_DEPTH = 4
SESSION_METHODS = SESSION_WORK_METHODS | {"commit", "rollback", "close"}
JSON_MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault", "add", "discard"}
)
FAN_OUT = ("asyncio.gather", "asyncio.wait", "asyncio.as_completed")
COMPREHENSIONS = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp


class Analysis:
    """Shared by every function walked in one audit: what is known, and what was reached."""

    def __init__(
        self,
        *,
        project: Project,
        factories: SessionFactories,
        summaries: Summaries,
        models: ModelCatalog,
        sites: dict[int, tuple[SchedulingSite, FunctionRef | None]],
        emit: Callable[[FlowEvent], None],
    ) -> None:
        self.project = project
        self.factories = factories
        self.summaries = summaries
        self.models = models
        self.sites = sites
        self.emit = emit
        self.site_arguments: dict[int, list[tuple[dict[str, Value], dict[str, Value]]]] = defaultdict(list)
        self.reached: dict[str | None, list[FunctionRef]] = defaultdict(list)
        self.too_deep: list[FunctionRef] = []
        self._returned: dict[tuple, Value | None] = {}

    def walk(
        self,
        function: FunctionRef,
        *,
        entry: str | None,
        arguments: dict[str, Value] | None = None,
        closure: dict[str, Value] | None = None,
        depth: int = 0,
        reaching: bool = True,
    ) -> Value | None:
        """Walk `function` as part of `entry` and return what it returns.

        `reaching=False` walks the code that starts an entry point: what it hands over
        counts, but it is not part of the background work.
        """
        arguments, closure = arguments or {}, closure or {}
        key = (function, entry, reaching, frozenset(arguments.items()), frozenset(closure.items()))
        if depth > MAX_DEPTH or key in self._returned:
            return self._returned.get(key)
        self._returned[key] = None  # a recursive call sees nothing returned
        if reaching and function not in self.reached[entry]:
            self.reached[entry].append(function)
        flow = FunctionFlow(self, function=function, entry=entry, depth=depth, reaching=reaching)
        try:
            self._returned[key] = flow.run(arguments=arguments, closure=closure)
        except RecursionError:
            # Expressions nested thousands deep (generated code): give up on this function only.
            self.too_deep.append(function)
        return self._returned[key]


class FunctionFlow:
    def __init__(
        self, analysis: Analysis, *, function: FunctionRef, entry: str | None, depth: int, reaching: bool
    ) -> None:
        self._analysis = analysis
        self._reaching = reaching
        self._function = function
        self._module = function.module
        self._entry = entry
        self._depth = depth
        self._locals = _local_names(function.node)
        self._nested = {
            node for node in all_nodes(function.node) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        } - {function.node}
        self._reported_long_lived: set[str] = set()
        self._returned: list[Value] = []

    def run(self, *, arguments: dict[str, Value], closure: dict[str, Value]) -> Value | None:
        state = FlowState(values=dict(closure))
        defaults = self._function.defaults()
        for name, annotation in self._function.annotations().items():
            value = arguments.get(name) or self._parameter_value(name, annotation, defaults.get(name))
            self._bind(name, value, state)
        self._block(self._function.node.body, state)
        return self._returned[0] if self._returned else None

    def _parameter_value(self, name: str, annotation: ast.expr | None, default: ast.expr | None) -> Value | None:
        factories, module = self._analysis.factories, self._module
        session = factories.request_session(annotation, default, module=module)
        if session is not None:
            return session
        if factories.is_session_type(annotation, module=module):
            return SessionValue(origin=f"session parameter `{name}`")
        model = self._analysis.models.model_for(annotation, module=module)
        return OrmValue(model=model) if model else None

    def _emit(self, event_type: type[FlowEvent], node: ast.AST, **fields) -> None:
        self._analysis.emit(event_type(module=self._module, node=node, entry=self._entry, **fields))

    # Statements

    def _block(self, statements: list[ast.stmt], state: FlowState) -> FlowState:
        for statement in statements:
            if state.left:
                break
            state = self._statement(statement, state)
        return state

    def _statement(self, node: ast.stmt, state: FlowState) -> FlowState:
        if isinstance(node, ast.Assign):
            value = self._evaluate(node.value, state)
            for target in node.targets:
                self._assign(target, value, state)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._assign(node.target, self._evaluate(node.value, state), state)
        elif isinstance(node, ast.AugAssign):
            self._augment(node, state)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self._assign(target, None, state)
        elif isinstance(node, ast.If):
            self._evaluate(node.test, state)
            return self._branches(state, [node.body, node.orelse])
        elif isinstance(node, ast.While):
            self._evaluate(node.test, state)
            return self._loop(node, state, target=None, item=None)
        elif isinstance(node, ast.For):
            iterated = self._evaluate(node.iter, state)
            return self._loop(node, state, target=node.target, item=row(iterated))
        elif isinstance(node, ast.AsyncFor):
            iterated = self._evaluate(node.iter, state)
            return self._loop(node, state, target=node.target, item=row(iterated), each_step=self._async_iteration)
        elif isinstance(node, ast.Return):
            value = self._evaluate(node.value, state)
            if value is not None:
                self._returned.append(value)
            state.left = "function"
        elif isinstance(node, ast.Raise):
            self._evaluate(node.exc, state)
            state.left = "function"
        elif isinstance(node, ast.Break | ast.Continue):
            state.left = "loop"
        elif isinstance(node, ast.With | ast.AsyncWith):
            return self._with(node, state)
        elif isinstance(node, ast.Try | ast.TryStar):
            return self._try(node, state)
        elif isinstance(node, ast.Match):
            self._evaluate(node.subject, state)
            return self._branches(state, [case.body for case in node.cases] + [[]])
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._evaluate(child, state)
        return state

    def _branches(self, state: FlowState, blocks: list[list[ast.stmt]]) -> FlowState:
        return reduce(FlowState.merged, [self._block(block, state.copy()) for block in blocks])

    def _loop(
        self, node: ast.For | ast.AsyncFor | ast.While, state: FlowState, *, target, item, each_step=None
    ) -> FlowState:
        """Walk the body twice; `each_step(node, state)` runs where each iteration starts."""

        def one_pass(start: FlowState) -> FlowState:
            running = start.copy()
            if each_step is not None:
                each_step(node, running)
            if target is not None:
                self._assign(target, item, running)
            ended = self._block(node.body, running)
            # break and continue end the pass, not the loop; what the pass did carries on.
            return replace(ended, left=None) if ended.left == "loop" else ended

        first = one_pass(state)
        second = one_pass(state.merged(first))
        return self._block(node.orelse, state.merged(second))

    def _try(self, node: ast.Try | ast.TryStar, state: FlowState) -> FlowState:
        after_body = self._block(node.body, state.copy())
        # A handler may start anywhere in the body: join the states before and after it.
        handler_start = state.merged(after_body)
        outcomes = [self._block(node.orelse, after_body)]
        for handler in node.handlers:
            running = handler_start.copy()
            if handler.name:
                running.values.pop(handler.name, None)
            outcomes.append(self._block(handler.body, running))
        joined = reduce(FlowState.merged, outcomes)
        # `finally` runs on every path, the ones that left included, which stay left.
        finished = self._block(node.finalbody, replace(joined.copy(), left=None))
        return replace(finished, left=finished.left or joined.left)

    def _with(self, node: ast.With | ast.AsyncWith, state: FlowState) -> FlowState:
        opened, committed_on_exit = [], []
        for item in node.items:
            value = self._evaluate(item.context_expr, state)
            began = _began_session(item.context_expr, state)
            if began is not None:
                committed_on_exit.append(began)
                state.in_use.add(began)
            if isinstance(item.optional_vars, ast.Name) and isinstance(value, SessionValue):
                opened.append(item.optional_vars.id)
            elif item.optional_vars is None and isinstance(value, SessionValue) and dotted_name(item.context_expr):
                opened.append(dotted_name(item.context_expr))
            if item.optional_vars is not None:
                self._assign(item.optional_vars, value, state)
        state.open_blocks.update(opened)
        state = self._block(node.body, state)
        for key in committed_on_exit:
            state.commit(key)
        for key in opened:
            state.open_blocks.discard(key)
            state.in_use.discard(key)
        return state

    def _assign(self, target: ast.expr, value: Value | None, state: FlowState) -> None:
        if isinstance(target, ast.Name):
            state.values.pop(target.id, None)
            self._bind(target.id, value, state)
        elif isinstance(target, ast.Attribute):
            owner = dotted_name(target.value)
            if state.orm(owner or "") is not None:
                state.modify(owner)
            else:
                self._evaluate(target.value, state)
        elif isinstance(target, ast.Subscript):
            self._evaluate(target.value, state)
            self._evaluate(target.slice, state)
            self._check_json_mutation(target.value, target, state)
        elif isinstance(target, ast.Tuple | ast.List):
            items = value.items if isinstance(value, TupleValue) and len(value.items) == len(target.elts) else None
            for position, element in enumerate(target.elts):
                self._assign(element, items[position] if items else None, state)
        elif isinstance(target, ast.Starred):
            self._assign(target.value, None, state)

    def _augment(self, node: ast.AugAssign, state: FlowState) -> None:
        if isinstance(node.target, ast.Attribute):
            self._attribute(node.target, state)
        self._evaluate(node.value, state)
        self._assign(node.target, None, state)

    def _bind(self, name: str, value: Value | None, state: FlowState) -> None:
        if value is None:
            return
        state.values[name] = value
        if isinstance(value, HolderValue):
            state.values.update((f"{name}.{attribute}", held) for attribute, held in value.attributes)

    # Expressions

    def _evaluate(self, node: ast.expr | None, state: FlowState) -> Value | None:
        if node is None:
            return None
        if isinstance(node, ast.Await):
            return self._await(node, state)
        if isinstance(node, ast.Call):
            return self._call(node, state)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, state)
        if isinstance(node, ast.Name):
            return self._name(node, state)
        if isinstance(node, ast.Subscript):
            container = self._evaluate(node.value, state)
            self._evaluate(node.slice, state)
            return row(container)
        if isinstance(node, ast.Tuple):
            items = tuple(self._evaluate(element, state) for element in node.elts)
            return TupleValue(items=items) if any(item is not None for item in items) else None
        if isinstance(node, ast.NamedExpr):
            value = self._evaluate(node.value, state)
            self._assign(node.target, value, state)
            return value
        if isinstance(node, COMPREHENSIONS):
            self._comprehension(node, state)
        elif not isinstance(node, ast.Lambda):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._evaluate(child, state)
        return None

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, state: FlowState
    ) -> None:
        inner = state.copy()
        for generator in node.generators:
            self._assign(generator.target, row(self._evaluate(generator.iter, inner)), inner)
            for condition in generator.ifs:
                self._evaluate(condition, inner)
        for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
            self._evaluate(part, inner)

    def _name(self, node: ast.Name, state: FlowState) -> Value | None:
        if node.id in state.values or node.id in self._locals:
            return state.values.get(node.id)
        session = self._long_lived_session(node.id)
        if session is None:
            return None
        if node.id not in self._reported_long_lived:
            self._reported_long_lived.add(node.id)
            self._emit(LongLivedSessionUse, node, name=node.id, value=session)
        state.values[node.id] = session
        return session

    def _long_lived_session(self, name: str) -> SessionValue | None:
        factories = self._analysis.factories
        symbol = self._analysis.project.resolve_name(name, module=self._module)
        if isinstance(symbol, AssignmentRef):
            return factories.long_lived_sessions(symbol.module).get(symbol.name)
        return factories.long_lived_sessions(self._module).get(name)

    def _attribute(self, node: ast.Attribute, state: FlowState) -> Value | None:
        key = dotted_name(node)
        if key in state.values:
            return state.values[key]
        owner = self._evaluate(node.value, state)
        if isinstance(owner, OrmValue) and dotted_name(node.value):
            return self._read(dotted_name(node.value), owner, node, state)
        if isinstance(owner, AwaitableAttrsValue) and (loaded := state.orm(owner.owner)) is not None:
            state.values[owner.owner] = replace(loaded, eager=loaded.eager | {node.attr})
        if isinstance(owner, HolderValue):
            return owner.attribute(node.attr)
        return None

    def _read(self, name: str, value: OrmValue, node: ast.Attribute, state: FlowState) -> Value | None:
        attribute = node.attr
        if attribute == "awaitable_attrs":
            return AwaitableAttrsValue(owner=name)
        if attribute not in value.model.attributes:
            return None
        self._emit(AttributeRead, node, name=name, value=value, attribute=attribute)
        # The first read after a commit either fails or reloads: later reads add nothing.
        state.values[name] = replace(
            value,
            expired=False,
            onupdate_stale=value.onupdate_stale and attribute not in value.model.sql_onupdate_columns,
            eager=value.eager | {attribute},
        )
        return None

    def _await(self, node: ast.Await, state: FlowState) -> Value | None:
        value = self._evaluate(node.value, state)
        if isinstance(node.value, ast.Call):
            self._check_wait(node, node.value, state)
        return value

    def _async_iteration(self, node: ast.AsyncFor, state: FlowState) -> None:
        """Each step of `async for` awaits the iterator: a crawl that fetches pages waits on the network."""
        if isinstance(node.iter, ast.Call):
            self._check_wait(node, node.iter, state)

    def _check_wait(self, node: ast.AST, call: ast.Call, state: FlowState) -> None:
        wait = self._network_wait(call, state)
        holding = state.holding()
        if wait is not None and holding:
            sessions = state.sessions()
            self._emit(NetworkWaitWhileHolding, node, wait=wait, sessions=tuple((n, sessions[n]) for n in holding))

    def _network_wait(self, call: ast.Call, state: FlowState) -> str | None:
        project, module = self._analysis.project, self._module
        call = awaited_call(call, module=module, project=project)
        if self._is_external(call.func, FAN_OUT):
            coroutines, _ = _coroutine_expressions(call)
            waits = (self._network_wait(c, state) for c in coroutines if isinstance(c, ast.Call))
            return next((wait for wait in waits if wait), None)
        clients = {name for name, value in state.values.items() if isinstance(value, HttpClientValue)}
        wait = direct_network_wait(
            call, module=module, project=project, http_clients=clients, sessions=set(state.sessions())
        )
        if wait is not None:
            return wait
        callee = self._callee(call, state)
        inner = self._analysis.summaries.of(callee).network_wait if callee else None
        return f"{callee.qualname}() -> {inner}" if inner else None

    def _call(self, node: ast.Call, state: FlowState) -> Value | None:
        scheduled = self._analysis.sites.get(id(node))
        if scheduled is not None:
            return self._schedule(*scheduled, state=state)
        func = node.func
        receiver_key = dotted_name(func.value) if isinstance(func, ast.Attribute) else None
        receiver = self._evaluate(func.value, state) if isinstance(func, ast.Attribute) else None
        evaluated = self._arguments(node, state)
        if isinstance(receiver, SessionValue) and receiver_key:
            return self._session_call(receiver_key, node, evaluated, state)
        if isinstance(receiver, QueryValue):
            return query_call(receiver, node)
        if isinstance(func, ast.Attribute) and func.attr in JSON_MUTATORS:
            self._check_json_mutation(func.value, node, state)
        return self._plain_call(node, receiver, evaluated, state)

    def _plain_call(
        self, node: ast.Call, receiver: Value | None, evaluated: dict[int, Value], state: FlowState
    ) -> Value | None:
        analysis, module = self._analysis, self._module
        if self._is_external(node.func, FAN_OUT):
            self._fan_out(node, state)
        if last_name(node.func) == "select" and node.args and self._is_external_or_unknown(node.func):
            model = analysis.models.model_for(node.args[0], module=module)
            return QueryValue(model=model) if model else None
        session = analysis.factories.created_session(node, module=module)
        if session is not None:
            return session
        if is_http_client_constructor(node, module=module, project=analysis.project):
            return HttpClientValue()
        callee = self._callee(node, state, receiver=receiver)
        if callee is not None:
            return self._enter(callee, node, receiver, evaluated, state)
        symbol = analysis.project.resolve(node.func, module=module)
        return self._construct(symbol, node, evaluated) if isinstance(symbol, ClassRef) else None

    def _arguments(self, node: ast.Call, state: FlowState) -> dict[int, Value]:
        evaluated = {}
        for expr in [*node.args, *(item.value for item in node.keywords)]:
            value = self._evaluate(expr.value if isinstance(expr, ast.Starred) else expr, state)
            if value is not None:
                evaluated[id(expr)] = value
        return evaluated

    def _is_external(self, func: ast.expr, names: tuple[str, ...]) -> bool:
        symbol = self._analysis.project.resolve(func, module=self._module)
        return isinstance(symbol, ExternalRef) and symbol.qualified_name in names

    def _is_external_or_unknown(self, func: ast.expr) -> bool:
        symbol = self._analysis.project.resolve(func, module=self._module)
        return symbol is None or isinstance(symbol, ExternalRef)

    # Sessions and queries

    def _session_call(self, key: str, node: ast.Call, evaluated: dict[int, Value], state: FlowState) -> Value | None:
        method = node.func.attr
        first = evaluated.get(id(node.args[0])) if node.args else None
        if method in SESSION_WORK_METHODS:
            state.in_use.add(key)
        if method == "commit":
            state.commit(key)
        elif method == "rollback":
            state.rollback(key)
        elif method == "close":
            state.in_use.discard(key)
        elif method in {"add", "add_all"}:
            for added in _listed(node.args):
                state.attach(dotted_name(added) or "", key)
        elif method == "refresh" and node.args:
            state.refresh(dotted_name(node.args[0]) or "", _refreshed_attributes(node))
        elif method in {"get", "get_one"} and node.args:
            model = self._analysis.models.model_for(node.args[0], module=self._module)
            eager = eager_relationships(_listed([keyword(node, "options")]))
            return OrmValue(model=model, session=key, loaded=True, eager=eager) if model else None
        elif method in {"execute", "scalars", "stream", "stream_scalars"} and isinstance(first, QueryValue):
            return replace(first, session=key)
        elif method == "scalar" and isinstance(first, QueryValue):
            return replace(first, session=key).row()
        return None

    def _check_json_mutation(self, column: ast.expr, node: ast.AST, state: FlowState) -> None:
        if not isinstance(column, ast.Attribute):
            return
        name = dotted_name(column.value)
        value = state.orm(name or "")
        if value is not None and column.attr in value.model.json_columns:
            self._emit(JsonMutation, node, name=name, value=value, attribute=column.attr)

    # Calls into other functions, objects, tasks

    def _callee(self, call: ast.Call, state: FlowState, *, receiver: Value | None = None) -> FunctionRef | None:
        if isinstance(call.func, ast.Attribute):
            receiver = receiver or state.values.get(dotted_name(call.func.value) or "")
            if isinstance(receiver, HolderValue):
                return self._analysis.project.method(receiver.cls, call.func.attr)
        return self._analysis.summaries.callee(call, caller=self._function)

    def _enter(
        self, callee: FunctionRef, node: ast.Call, receiver: Value | None, evaluated: dict[int, Value], state: FlowState
    ) -> Value | None:
        returned = None
        if self._analysis.project.is_scanned(callee.module):
            returned = self._analysis.walk(
                callee,
                entry=self._entry,
                arguments=self._bound_values(node, callee, receiver, evaluated),
                closure=self._closure(callee, state),
                depth=self._depth + 1,
                reaching=self._reaching,
            )
        summary = self._analysis.summaries.of(callee)
        bound = {parameter: dotted_name(expr) for parameter, expr in bind_arguments(node, callee).items()}
        for parameter in summary.modifies:
            state.modify(bound.get(parameter) or "")
        for parameter in summary.commits | summary.uses:
            key = bound.get(parameter)
            if key in state.sessions():
                if parameter in summary.commits:
                    state.commit(key)
                else:
                    state.in_use.add(key)
        # What the callee returns, with its sessions under the caller's names again.
        return _renamed(returned, {p: key for p, key in bound.items() if key in state.sessions()}) if returned else None

    def _bound_values(
        self, call: ast.Call, callee: FunctionRef, receiver: Value | None, evaluated: dict[int, Value]
    ) -> dict[str, Value]:
        bound = bind_arguments(call, callee)
        renamed_sessions = {
            dotted_name(expr): parameter
            for parameter, expr in bound.items()
            if isinstance(evaluated.get(id(expr)), SessionValue) and dotted_name(expr)
        }
        values = {
            parameter: _renamed(evaluated[id(expr)], renamed_sessions)
            for parameter, expr in bound.items()
            if id(expr) in evaluated
        }
        parameters = callee.parameter_names()
        if isinstance(receiver, HolderValue) and callee.owner is not None and parameters:
            values[parameters[0]] = receiver
        return values

    def _closure(self, callee: FunctionRef, state: FlowState) -> dict[str, Value]:
        """What a nested function sees of the enclosing function's names."""
        if callee.node not in self._nested:
            return {}
        parameters = set(callee.parameter_names())
        return {name: value for name, value in state.values.items() if name.partition(".")[0] not in parameters}

    def _construct(self, cls: ClassRef, node: ast.Call, evaluated: dict[int, Value]) -> Value | None:
        model = self._analysis.models.model(cls)
        if model is not None:
            return OrmValue(model=model)
        init = self._analysis.project.method(cls, "__init__")
        if init is None:
            return None
        bound = bind_arguments(node, init, bound=True)
        kept = []
        for statement in body_nodes(init.node):
            if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Name)):
                continue
            value = evaluated.get(id(bound.get(statement.value.id)))
            for target in statement.targets:
                if isinstance(value, SessionValue | OrmValue) and _is_self_attribute(target):
                    kept.append((target.attr, value))
        return HolderValue(cls=cls, attributes=tuple(kept)) if kept else None

    def _schedule(self, site: SchedulingSite, function: FunctionRef | None, *, state: FlowState) -> None:
        target = site.target_call
        if target is None:
            for argument in site.call.args:
                self._evaluate(argument, state)
            return None
        receiver = self._evaluate(target.func.value, state) if isinstance(target.func, ast.Attribute) else None
        evaluated = self._arguments(target, state)
        handed = [
            (ast.unparse(expr), evaluated[id(expr)])
            for expr in [*target.args, *(item.value for item in target.keywords)]
            if id(expr) in evaluated
        ]
        if isinstance(receiver, HolderValue):
            handed.append((ast.unparse(target.func.value), receiver))
        closure = self._closure(function, state) if function else {}
        handed += self._free_sessions(function, closure)
        self._emit(TaskHandoff, site.call, site=site, handed=tuple(handed))
        if function is not None:
            arguments = self._bound_values(target, function, receiver, evaluated)
            self._analysis.site_arguments[id(site.call)].append((arguments, closure))
        return None

    def _free_sessions(self, function: FunctionRef | None, closure: dict[str, Value]) -> list[tuple[str, Value]]:
        """Sessions of the enclosing function that a nested function works with."""
        if function is None or not closure:
            return []
        used = _sessions_worked_with(function)
        return [(name, value) for name, value in closure.items() if name in used and isinstance(value, SessionValue)]

    def _fan_out(self, node: ast.Call, state: FlowState) -> None:
        coroutines, many = _coroutine_expressions(node)
        carried = [self._carried_sessions(c, state) for c in coroutines if isinstance(c, ast.Call)]
        counts = Counter(name for sessions in carried for name in sessions)
        shared = {name: value for sessions in carried for name, value in sessions.items() if many or counts[name] > 1}
        if shared:
            self._emit(
                ConcurrentSessionUse, node, sessions=tuple(sorted(shared.items())), how=f"{ast.unparse(node.func)}()"
            )

    def _carried_sessions(self, call: ast.Call, state: FlowState) -> dict[str, SessionValue]:
        """Sessions a coroutine call takes along: as arguments, on `self`, or from the enclosing scope."""
        carried = {}
        for expr in [*call.args, *(item.value for item in call.keywords)]:
            name = dotted_name(expr.value if isinstance(expr, ast.Starred) else expr) or ""
            value = state.values.get(name)
            if isinstance(value, SessionValue):
                carried[name] = value
            elif isinstance(value, HolderValue):
                carried.update((f"{name}.{attribute}", session) for attribute, session in value.sessions().items())
        callee = self._callee(call, state)
        receiver = (
            state.values.get(dotted_name(call.func.value) or "") if isinstance(call.func, ast.Attribute) else None
        )
        if callee is not None and isinstance(receiver, HolderValue):
            used = {node.attr for node in all_nodes(callee.node) if _is_self_attribute(node)}
            carried.update((f"self.{a}", s) for a, s in receiver.sessions().items() if a in used)
        if callee is not None:
            carried.update(self._free_sessions(callee, self._closure(callee, state)))
        return carried


def _renamed(value: Value | None, sessions: dict[str, str]) -> Value | None:
    """`value` as seen across a call: its session under the other side's name (or none)."""
    if isinstance(value, OrmValue | QueryValue) and value.session is not None:
        return replace(value, session=sessions.get(value.session))
    if isinstance(value, TupleValue):
        return TupleValue(items=tuple(_renamed(item, sessions) for item in value.items))
    return value


def _began_session(expr: ast.expr, state: FlowState) -> str | None:
    """The session of `async with session.begin():`, which commits when the block ends."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in {"begin", "begin_nested"}
    ):
        key = dotted_name(expr.func.value)
        return key if key in state.sessions() else None
    return None


def _coroutine_expressions(call: ast.Call) -> tuple[list[ast.expr], bool]:
    """The awaitables given to gather()/wait(), and whether there are many of one kind."""
    coroutines, many = [], False
    for argument in call.args:
        inner = argument.value if isinstance(argument, ast.Starred) else argument
        if isinstance(inner, COMPREHENSIONS) and not isinstance(inner, ast.DictComp):
            coroutines.append(inner.elt)
            many = True
        elif isinstance(inner, ast.List | ast.Tuple | ast.Set):
            coroutines.extend(inner.elts)
        else:
            coroutines.append(inner)
    return coroutines, many


def _is_self_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names bound inside `function` (so they never mean a module global), minus `global` ones."""
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    names = {argument.arg for argument in every if argument is not None}
    declared_global = set()
    for node in body_nodes(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared_global.update(node.names)
    return names - declared_global


def _listed(expressions: list[ast.expr | None]) -> list[ast.expr]:
    """The expressions, with list and tuple displays opened: `add_all([a, b])` adds `a` and `b`."""
    found = []
    for expression in expressions:
        if isinstance(expression, ast.List | ast.Tuple):
            found.extend(expression.elts)
        elif expression is not None:
            found.append(expression)
    return found


def _refreshed_attributes(node: ast.Call) -> set[str]:
    """The names in `refresh(obj, ["items"])` or `attribute_names=[...]`."""
    listed = node.args[1:2] or [keyword(node, "attribute_names")]
    return {item.value for item in _listed(listed) if isinstance(item, ast.Constant) and isinstance(item.value, str)}


def _sessions_worked_with(function: FunctionRef) -> set[str]:
    """Names `function` runs session work on (`name.execute(...)`, `name.commit()`) or passes to a call.

    Reading `session.info` is not work on the session's connection.
    """
    worked = set()
    for node in all_nodes(function.node):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in SESSION_METHODS:
            worked.add(func.value.id)
        arguments = [*node.args, *(item.value for item in node.keywords)]
        worked.update(argument.id for argument in arguments if isinstance(argument, ast.Name))
    return worked
