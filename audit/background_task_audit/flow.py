"""The flow analysis: one function walked statement by statement, tracking sessions and ORM objects.

A may-analysis, kept simple on purpose: branches are walked separately and joined (a risk
on one path is a risk), loop bodies twice (the second pass sees what the first left), and
`except` blocks from the state before and after the `try` body. Calls into scanned
functions are followed with the values of their arguments, a few levels deep, and what
they leave behind comes back: the value they return, and the caller's sessions they
committed or left holding a connection. What it observes goes to the checks as events.
"""

import ast
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any

from background_task_audit.entrypoints import SchedulingSite
from background_task_audit.events import (
    AttributeRead,
    ConcurrentSessionUse,
    FailedSessionWrite,
    FlowEvent,
    JsonMutation,
    LongLivedSessionUse,
    NetworkWaitWhileHolding,
    TaskHandoff,
)
from background_task_audit.kinds import Kind, Types, model_name, opaque_model
from background_task_audit.network import awaited_call, blocking_wait, direct_wait
from background_task_audit.orm import ModelCatalog, ModelInfo
from background_task_audit.project import AssignmentRef, ClassRef, ExternalRef, FunctionRef, Project
from background_task_audit.queries import eager_relationships, query_call, row
from background_task_audit.sessions import SessionFactories, keyword, value_of_kind
from background_task_audit.summaries import (
    SESSION_WORK_METHODS,
    Summaries,
    bind_arguments,
    rebased,
    status_values,
)
from background_task_audit.syntax import Walker, dotted_name, last_name
from background_task_audit.values import (
    AwaitableAttrsValue,
    ClassValue,
    ClientValue,
    ConstantValue,
    ContextVarValue,
    CoroutinesValue,
    EngineValue,
    FlowState,
    HolderValue,
    OrmValue,
    QueryValue,
    SessionMakerValue,
    SessionValue,
    TupleValue,
    Value,
)

MAX_DEPTH = 4
# Distinct argument values a function is walked with; past that it is walked no more.
MAX_CONTEXTS = 64
SMALL_FUNCTION = 40  # nodes in its body
SMALL_FUNCTION_CONTEXTS = 256
SESSION_METHODS = SESSION_WORK_METHODS | {"commit", "rollback", "close", "add", "add_all"}
RELEASING_METHODS = frozenset({"commit", "rollback", "close"})
JSON_MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault", "add", "discard"}
)
COLLECTORS = frozenset({"append", "add", "insert", "extend"})
FAN_OUT = frozenset({"asyncio.gather", "asyncio.wait", "asyncio.as_completed"})
COMPREHENSIONS = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
# Values worth keeping under an attribute name (`self.session = session`).
TRACKED = (
    SessionValue | SessionMakerValue | EngineValue | ClientValue | CoroutinesValue | HolderValue | OrmValue | QueryValue
)


@dataclass(frozen=True)
class Outcome:
    """What a call leaves to its caller, with keys rooted at the callee's parameters."""

    returned: Value | None = None
    in_use: frozenset[str] = frozenset()
    released: frozenset[str] = frozenset()


@dataclass
class _Exits:
    returned: list[Value] = field(default_factory=list)
    in_use: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)


class Analysis:
    """Shared by every function walked in one audit: what is known, and what was reached."""

    def __init__(
        self,
        *,
        project: Project,
        types: Types,
        factories: SessionFactories,
        summaries: Summaries,
        models: ModelCatalog,
        walker: Walker,
        sites: dict[int, tuple[SchedulingSite, FunctionRef | None]],
        emit: Callable[[FlowEvent], None],
    ) -> None:
        self.project = project
        self.types = types
        self.factories = factories
        self.summaries = summaries
        self.models = models
        self.walker = walker
        self.sites = sites
        self.emit = emit
        self.site_arguments: dict[int, list[tuple[dict[str, Value], dict[str, Value]]]] = defaultdict(list)
        self.reached: dict[str, list[FunctionRef]] = defaultdict(list)
        self.too_deep: list[FunctionRef] = []
        self._outcomes: dict[tuple[Any, ...], Outcome] = {}
        self._contexts: Counter[int] = Counter()
        self._scopes: dict[int, tuple[set[str], set[ast.AST]]] = {}
        self._touches: dict[int, bool] = {}

    def scope(self, function: FunctionRef) -> tuple[set[str], set[ast.AST]]:
        """The names a function binds locally, and the functions nested in it."""
        found = self._scopes.get(id(function.node))
        if found is None:
            nested: set[ast.AST] = set()
            if _source_of(function).count("def ") > 1:
                nested = {
                    node
                    for node in self.walker.everything(function.node)
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not function.node
                }
            found = self._scopes[id(function.node)] = (_local_names(function.node, self.walker), nested)
        return found

    def touches_sessions(self, function: FunctionRef) -> bool:
        """Whether a function can see a session of its own: a parameter, `self`, one it opens, a global."""
        known = self._touches.get(id(function.node))
        if known is None:
            known = self._touches[id(function.node)] = self._sees_session(function)
        return known

    def _sees_session(self, function: FunctionRef) -> bool:
        module = function.module
        if function.owner is not None:
            # A method of a class that holds a session sees it through `self`, named or not.
            held = self.summaries.holdings(ClassRef(module, function.owner)).values()
            if any(isinstance(value, _SESSION_LIKE) for value in held):
                return True
        if not SESSION_WORDS.search(_source_of(function)):
            return False
        defaults = function.defaults()
        for name, annotation in function.annotations().items():
            if self.factories.request_session(annotation, defaults.get(name), module=module) is not None:
                return True
            if isinstance(value_of_kind(self.types.of_annotation(annotation, module=module), origin=""), _SESSION_LIKE):
                return True
        for node in self.walker.body(function.node):
            if isinstance(node, ast.Call):
                if isinstance(self.factories.created(node, module=module), _SESSION_LIKE):
                    return True
                callee = self.summaries.callee(node, caller=function)
                if callee is not None and isinstance(self.factories.made_by_function(callee), _SESSION_LIKE):
                    return True
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                symbol = self.project.resolve_name(node.id, module=module)
                if isinstance(symbol, AssignmentRef) and (
                    isinstance(self.factories.module_level_value(symbol), _SESSION_LIKE)
                    or symbol.name in self.factories.long_lived_sessions(symbol.module)
                    or ("ContextVar" in symbol.module.text and self.summaries.context_var(node, module=module))
                ):
                    return True
        return False

    def walk(
        self,
        function: FunctionRef,
        *,
        entry: str | None,
        in_task: bool,
        arguments: dict[str, Value] | None = None,
        closure: dict[str, Value] | None = None,
        depth: int = 0,
        holding: frozenset[str] = frozenset(),
    ) -> Outcome:
        """Walk `function` as part of `entry` (None: on its own) and return what it leaves to its caller.

        `holding`: the sessions among its parameters (`session`, `self.session`) that hold a
        connection when it is called.
        """
        arguments, closure = arguments or {}, closure or {}
        if entry is not None and function not in self.reached[entry]:
            self.reached[entry].append(function)
        key = (id(function.node), in_task, frozenset(arguments.items()), frozenset(closure.items()), holding)
        if key in self._outcomes:
            return self._outcomes[key]
        if depth > MAX_DEPTH or self._contexts[id(function.node)] >= self._context_limit(function):
            # Walked enough: what it does to its caller's sessions, read from its summary.
            summary = self.summaries.of(function)
            return Outcome(in_use=summary.uses - summary.commits, released=summary.commits)
        self._contexts[id(function.node)] += 1
        self._outcomes[key] = Outcome()  # a recursive call sees nothing come back
        flow = FunctionFlow(self, function=function, entry=entry, in_task=in_task, depth=depth)
        try:
            self._outcomes[key] = flow.run(arguments=arguments, closure=closure, holding=holding)
        except RecursionError:
            # Expressions nested thousands deep (generated code): give up on this function only.
            self.too_deep.append(function)
        return self._outcomes[key]

    def _context_limit(self, function: FunctionRef) -> int:
        """How many argument contexts a function is walked for: a small one (a factory, an accessor),
        cheap to walk and called from everywhere, for many more."""
        return SMALL_FUNCTION_CONTEXTS if len(self.walker.body(function.node)) <= SMALL_FUNCTION else MAX_CONTEXTS

    def walked_alone(self, function: FunctionRef) -> bool:
        """Whether `function` was walked on its own (not in a task, no arguments) already."""
        return (id(function.node), False, frozenset(), frozenset(), frozenset()) in self._outcomes


class FunctionFlow:
    def __init__(self, analysis: Analysis, *, function: FunctionRef, entry: str | None, in_task: bool, depth: int):
        self._analysis = analysis
        self._function = function
        self._module = function.module
        self._entry = entry
        self._in_task = in_task
        self._depth = depth
        self._is_async = function.is_async
        self._locals, self._nested = analysis.scope(function)
        self._parameters = set(function.parameter_names())
        self._reported_long_lived: set[str] = set()
        self._awaited: set[int] = set()
        self._exits = _Exits()
        self._flags: set[tuple[str, str]] | None = None

    def run(self, *, arguments: dict[str, Value], closure: dict[str, Value], holding: frozenset[str]) -> Outcome:
        state = FlowState(values=dict(closure), in_use=set(holding))
        defaults = self._function.defaults()
        names = self._function.parameter_names()
        for name, annotation in self._function.annotations().items():
            value = arguments.get(name) or self._parameter_value(name, annotation, defaults.get(name))
            if value is None and self._function.owner is not None and names and name == names[0]:
                value = self._self_value(self._function.owner)
            self._bind(name, value, state)
        end = self._block(self._function.node.body, state)
        if not end.left:
            self._exit(end)
        returned = self._exits.returned[0] if self._exits.returned else None
        return Outcome(
            returned=returned, in_use=frozenset(self._exits.in_use), released=frozenset(self._exits.released)
        )

    def _exit(self, state: FlowState) -> None:
        self._exits.in_use |= {key for key in state.in_use if key.partition(".")[0] in self._parameters}

    def _parameter_value(self, name: str, annotation: ast.expr | None, default: ast.expr | None) -> Value | None:
        factories, module = self._analysis.factories, self._module
        session = factories.request_session(annotation, default, module=module)
        if session is not None:
            return session
        info = self._analysis.types.of_annotation(annotation, module=module)
        if isinstance(info, ModelInfo):
            return OrmValue(model=info)
        if info is Kind.session:
            return SessionValue(origin=f"session parameter `{name}`")
        return value_of_kind(info, origin=f"parameter `{name}`")

    def _declared(self, annotation: ast.expr) -> Value | None:
        """What `name: T = <something unknown>` holds, by its type."""
        info = self._analysis.types.of_annotation(annotation, module=self._module)
        if isinstance(info, ModelInfo):
            return OrmValue(model=info)
        return value_of_kind(info, origin=f"`{ast.unparse(annotation)}`")

    def _self_value(self, owner: ast.ClassDef) -> Value | None:
        held = self._analysis.summaries.holdings(ClassRef(self._module, owner))
        return HolderValue(cls=ClassRef(self._module, owner), attributes=tuple(sorted(held.items()))) if held else None

    def _emit(self, event_type: type[FlowEvent], node: ast.AST, **fields: Any) -> None:
        event = event_type(module=self._module, node=node, entry=self._entry, in_task=self._in_task, **fields)
        self._analysis.emit(event)

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
                self._assign(target, value, state, source=node.value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                value = self._evaluate(node.value, state) or self._declared(node.annotation)
                self._assign(node.target, value, state, source=node.value)
        elif isinstance(node, ast.AugAssign):
            self._augment(node, state)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self._assign(target, None, state)
        elif isinstance(node, ast.If):
            self._evaluate(node.test, state)
            known = self._truth(node.test, state)
            if known is not None:
                # A flag the caller passed as a constant: only one branch runs.
                return self._block(node.body if known else node.orelse, state)
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
                self._exits.returned.append(value)
            self._exit(state)
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

    def _truth(self, test: ast.expr, state: FlowState) -> bool | None:
        """The value of a test on a flag given as a constant (`if include_members:`), else None."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self._truth(test.operand, state)
            return None if inner is None else not inner
        if isinstance(test, ast.Name):
            value = state.values.get(test.id)
            return bool(value.value) if isinstance(value, ConstantValue) else None
        if isinstance(test, ast.BoolOp):
            known = [self._truth(operand, state) for operand in test.values]
            decisive = isinstance(test.op, ast.Or)
            if decisive in known:
                return decisive
            return (not decisive) if all(value is not None for value in known) else None
        return None

    def _branches(self, state: FlowState, blocks: list[list[ast.stmt]]) -> FlowState:
        return reduce(FlowState.merged, [self._block(block, state.copy()) for block in blocks])

    def _loop(
        self,
        node: ast.For | ast.AsyncFor | ast.While,
        state: FlowState,
        *,
        target: ast.expr | None,
        item: Value | None,
        each_step: Callable[[ast.AsyncFor, FlowState], None] | None = None,
    ) -> FlowState:
        """Walk the body twice; `each_step(node, state)` runs where each iteration starts."""

        def one_pass(start: FlowState) -> FlowState:
            running = start.copy()
            if each_step is not None and isinstance(node, ast.AsyncFor):
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
        before = state.copy()
        after_body = self._block(node.body, state.copy())
        # A handler may start anywhere in the body: join the states before and after it.
        handler_start = before.merged(after_body)
        outcomes = [self._block(node.orelse, after_body)]
        failing = self._sessions_worked_in(node.body, before)
        for handler in node.handlers:
            running = handler_start.copy()
            if handler.name:
                running.values.pop(handler.name, None)
            if failing:
                self._check_failed_session_write(handler, failing, running)
            outcomes.append(self._block(handler.body, running))
        joined = reduce(FlowState.merged, outcomes)
        # `finally` runs on every path, the ones that left included, which stay left.
        finished = self._block(node.finalbody, replace(joined.copy(), left=None))
        return replace(finished, left=finished.left or joined.left)

    def _with(self, node: ast.With | ast.AsyncWith, state: FlowState) -> FlowState:
        opened: list[str] = []
        committed_on_exit: list[str] = []
        for item in node.items:
            began = self._began_session(item.context_expr, state)
            value = self._evaluate(item.context_expr, state)
            if began is not None:
                committed_on_exit.append(began)
                state.in_use.add(began)
            target = item.optional_vars
            if isinstance(value, SessionValue):
                key = target.id if isinstance(target, ast.Name) else dotted_name(item.context_expr)
                if key is not None and began is None:
                    opened.append(key)
                    if value.connection:
                        state.in_use.add(key)
            if target is not None:
                self._assign(target, value, state)
        state = self._block(node.body, state)
        for key in committed_on_exit:
            state.commit(key)
        for key in opened:
            state.in_use.discard(key)
        return state

    def _began_session(self, expr: ast.expr, state: FlowState) -> str | None:
        """The session of `async with session.begin():`, which commits when the block ends."""
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "begin":
            key = self._key(dotted_name(expr.func.value) or "", state)
            return key if key in state.sessions() else None
        return None

    def _assign(
        self, target: ast.expr, value: Value | None, state: FlowState, *, source: ast.expr | None = None
    ) -> None:
        if isinstance(target, ast.Name):
            state.values.pop(target.id, None)
            state.aliases.pop(target.id, None)
            self._bind(target.id, value, state)
            self._alias(target.id, value, source, state)
        elif isinstance(target, ast.Attribute):
            owner = dotted_name(target.value)
            dotted = dotted_name(target)
            if owner is not None and state.orm(owner) is not None:
                state.modify(owner)
            elif dotted is not None and isinstance(value, TRACKED):
                state.values[dotted] = value
                self._alias(dotted, value, source, state)
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

    def _alias(self, name: str, value: Value | None, source: ast.expr | None, state: FlowState) -> None:
        """`db = session`: both names are one session, in use together."""
        original = dotted_name(source) if source is not None else None
        if isinstance(value, SessionValue) and original is not None and original != name:
            state.aliases[name] = self._key(original, state)

    def _key(self, name: str, state: FlowState) -> str:
        return state.aliases.get(name, name)

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
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return self._display(node, state)
        if isinstance(node, ast.NamedExpr):
            value = self._evaluate(node.value, state)
            self._assign(node.target, value, state)
            return value
        if isinstance(node, COMPREHENSIONS):
            return self._comprehension(node, state)
        if not isinstance(node, ast.Lambda):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._evaluate(child, state)
        return None

    def _display(self, node: ast.Tuple | ast.List | ast.Set, state: FlowState) -> Value | None:
        """A tuple of tracked values, or coroutines collected to run together."""
        items = tuple(self._evaluate(element, state) for element in node.elts)
        carried = [self._carried_sessions(e, state) for e in node.elts if isinstance(e, ast.Call)]
        if isinstance(node, ast.List) and not node.elts:
            return CoroutinesValue()
        if any(carried):
            counts = Counter(name for sessions in carried for name in sessions)
            shared = {name: value for sessions in carried for name, value in sessions.items()}
            return CoroutinesValue().with_more(shared, many=any(count > 1 for count in counts.values()))
        if isinstance(node, ast.Tuple) and any(item is not None for item in items):
            return TupleValue(items=items)
        return None

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, state: FlowState
    ) -> Value | None:
        inner = state.copy()
        for generator in node.generators:
            self._assign(generator.target, row(self._evaluate(generator.iter, inner)), inner)
            for condition in generator.ifs:
                self._evaluate(condition, inner)
        for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
            self._evaluate(part, inner)
        if isinstance(node, ast.DictComp) or not isinstance(node.elt, ast.Call):
            return None
        carried = self._carried_sessions(node.elt, inner)
        return CoroutinesValue().with_more(carried, many=True) if carried else None

    def _name(self, node: ast.Name, state: FlowState) -> Value | None:
        if node.id in state.values or node.id in self._locals:
            return state.values.get(node.id)
        session = self._long_lived_session(node.id)
        if session is None:
            return self._global_value(node)
        if node.id not in self._reported_long_lived and self._in_task:
            self._reported_long_lived.add(node.id)
            self._emit(LongLivedSessionUse, node, name=node.id, value=session)
        state.values[node.id] = session
        return session

    def _global_value(self, node: ast.Name) -> Value | None:
        """A module-level sessionmaker, engine, client or session ContextVar."""
        symbol = self._analysis.project.resolve_name(node.id, module=self._module)
        if not isinstance(symbol, AssignmentRef):
            return None
        found = self._analysis.factories.module_level_value(symbol)
        if found is not None:
            return found
        if "ContextVar" in symbol.module.text:
            return self._analysis.summaries.context_var(node, module=self._module)
        return None

    def _long_lived_session(self, name: str) -> SessionValue | None:
        factories = self._analysis.factories
        symbol = self._analysis.project.resolve_name(name, module=self._module)
        if isinstance(symbol, AssignmentRef):
            return factories.long_lived_sessions(symbol.module).get(symbol.name)
        return factories.long_lived_sessions(self._module).get(name)

    def _attribute(self, node: ast.Attribute, state: FlowState) -> Value | None:
        key = dotted_name(node)
        if key is not None and key in state.values:
            return state.values[key]
        owner = self._evaluate(node.value, state)
        owner_name = dotted_name(node.value)
        if isinstance(owner, OrmValue) and owner_name:
            return self._read(owner_name, owner, node, state)
        if isinstance(owner, AwaitableAttrsValue) and (loaded := state.orm(owner.owner)) is not None:
            state.values[owner.owner] = replace(loaded, eager=loaded.eager | {node.attr})
        if isinstance(owner, HolderValue):
            return owner.attribute(node.attr)
        return None

    def _read(self, name: str, value: OrmValue, node: ast.Attribute, state: FlowState) -> Value | None:
        attribute = node.attr
        if attribute == "awaitable_attrs":
            return AwaitableAttrsValue(owner=name)
        known = attribute in value.model.attributes
        if not known and not (value.model.opaque and not attribute.startswith("_")):
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
        if not isinstance(node.value, ast.Call):
            return self._evaluate(node.value, state)
        self._awaited.add(id(node.value))
        # What is held while the call waits is what was held when it started.
        holding = state.holding()
        held = state.sessions()
        value = self._evaluate(node.value, state)
        if holding:
            self._check_wait(node, node.value, state, holding=holding, sessions=held)
        return value

    def _async_iteration(self, node: ast.AsyncFor, state: FlowState) -> None:
        """Each step of `async for` awaits the iterator: a crawl that fetches pages waits on the network."""
        holding = state.holding()
        if isinstance(node.iter, ast.Call) and holding:
            self._check_wait(node, node.iter, state, holding=holding, sessions=state.sessions())

    def _check_wait(
        self, node: ast.AST, call: ast.Call, state: FlowState, *, holding: list[str], sessions: dict[str, SessionValue]
    ) -> None:
        inner = awaited_call(call, module=self._module, project=self._analysis.project)
        callee = self._callee(inner, state)
        if callee is not None and self._analysis.project.is_scanned(callee.module):
            # A session handed to a function the analysis walks is judged inside it, where the wait is.
            passed = set(self._passed_holding(inner, callee, holding))
            holding = [key for key in holding if key not in passed]
            if not holding:
                return
        wait = self._network_wait(call, state)
        if wait is not None:
            self._emit(NetworkWaitWhileHolding, node, wait=wait, sessions=tuple((n, sessions[n]) for n in holding))

    def _network_wait(self, call: ast.Call, state: FlowState) -> str | None:
        project, module = self._analysis.project, self._module
        call = awaited_call(call, module=module, project=project)
        if self._is_external(call.func, FAN_OUT):
            coroutines, _ = _coroutine_expressions(call)
            waits = (self._network_wait(c, state) for c in coroutines if isinstance(c, ast.Call))
            return next((wait for wait in waits if wait), None)
        peek = self._peeker(state)
        work_of = self._analysis.summaries.thread_work(
            caller=self._function, value_of=peek, callee_of=lambda c: self._callee(c, state)
        )
        wait = direct_wait(call, module=module, project=project, value_of=peek, work_of=work_of)
        if wait is not None:
            return wait
        callee = self._callee(call, state)
        inner = self._analysis.summaries.of(callee).network_wait if callee else None
        return f"{callee.qualname}() -> {inner}" if callee and inner else None

    def _peeker(self, state: FlowState) -> Callable[[ast.expr], Value | None]:
        """What an expression holds, read without walking it again: for telling clients apart."""
        analysis = self._analysis

        def peek(expr: ast.expr) -> Value | None:
            name = dotted_name(expr)
            if name is not None and name in state.values:
                return state.values[name]
            if isinstance(expr, ast.Name) and expr.id not in self._locals:
                return self._global_value(expr)
            if isinstance(expr, ast.Call):
                callee = self._callee(expr, state)
                if callee is not None:
                    return analysis.factories.made_by_function(callee)
                return analysis.factories.created(expr, module=self._module)
            return None

        return peek

    def _call(self, node: ast.Call, state: FlowState) -> Value | None:
        scheduled = self._analysis.sites.get(id(node))
        if scheduled is not None:
            self._schedule(*scheduled, state=state)
            return None
        func = node.func
        holding = state.holding() if self._is_async and id(node) not in self._awaited else []
        held = state.sessions() if holding else {}
        receiver_key = dotted_name(func.value) if isinstance(func, ast.Attribute) else None
        receiver = self._evaluate(func.value, state) if isinstance(func, ast.Attribute) else None
        evaluated = self._arguments(node, state)
        if isinstance(func, ast.Attribute):
            handled, special = self._method_call(func, receiver, receiver_key, node, evaluated, state)
            if handled:
                return special
        value = self._plain_call(node, receiver, evaluated, state)
        if holding:
            self._check_blocking(node, state, holding=holding, sessions=held)
        return value

    def _method_call(
        self,
        func: ast.Attribute,
        receiver: Value | None,
        receiver_key: str | None,
        node: ast.Call,
        evaluated: dict[int, Value],
        state: FlowState,
    ) -> tuple[bool, Value | None]:
        """A call on a known value (a session, a query, a maker...): whether it was one, and its value."""
        method = func.attr
        if isinstance(receiver, SessionValue) and receiver_key:
            return True, self._session_call(self._key(receiver_key, state), node, evaluated, state)
        if isinstance(receiver, QueryValue):
            return True, query_call(receiver, node)
        if isinstance(receiver, SessionMakerValue) and method == "begin":
            origin = f"session from {ast.unparse(func)}()"
            return True, SessionValue(origin=origin, expires_on_commit=receiver.expires_on_commit)
        if isinstance(receiver, EngineValue) and method in {"connect", "begin"}:
            return True, SessionValue(origin=f"connection from {ast.unparse(func)}()", connection=True)
        if isinstance(receiver, ContextVarValue) and method == "get":
            return True, SessionValue(origin=f"session from ContextVar `{receiver.name}`", context_var=receiver.name)
        if isinstance(receiver, CoroutinesValue) and receiver_key and method in COLLECTORS and node.args:
            added = node.args[0]
            carried = self._carried_sessions(added, state) if isinstance(added, ast.Call) else {}
            inner = evaluated.get(id(added))
            if isinstance(inner, CoroutinesValue):
                carried = {**carried, **dict(inner.sessions)}
            state.values[receiver_key] = receiver.with_more(carried, many=isinstance(inner, CoroutinesValue))
            return True, None
        if method in JSON_MUTATORS:
            self._check_json_mutation(func.value, node, state)
        return False, None

    def _check_blocking(
        self, node: ast.Call, state: FlowState, *, holding: list[str], sessions: dict[str, SessionValue]
    ) -> None:
        """A blocking network call in async code while a session is held: the loop and the connection wait."""
        analysis = self._analysis
        wait = blocking_wait(node, module=self._module, project=analysis.project, value_of=self._peeker(state))
        if wait is None and (callee := self._callee(node, state)) is not None and not callee.is_async:
            inner = analysis.summaries.of(callee).network_wait
            wait = f"{callee.qualname}() -> {inner}" if inner and inner.startswith("blocking") else None
        if wait is not None:
            self._emit(NetworkWaitWhileHolding, node, wait=wait, sessions=tuple((n, sessions[n]) for n in holding))

    def _plain_call(
        self, node: ast.Call, receiver: Value | None, evaluated: dict[int, Value], state: FlowState
    ) -> Value | None:
        analysis, module = self._analysis, self._module
        if self._is_external(node.func, FAN_OUT):
            self._fan_out(node, state)
            return None
        if last_name(node.func) == "select" and node.args and self._is_external_or_unknown(node.func):
            return self._select(node.args[0])
        if isinstance(node.func, ast.Name):
            called = state.values.get(node.func.id)
            if isinstance(called, SessionMakerValue):
                expiry = keyword(node, "expire_on_commit")
                given = expiry.value if isinstance(expiry, ast.Constant) else None
                expires = given if isinstance(given, bool) else called.expires_on_commit
                return SessionValue(origin=f"session from {node.func.id}()", expires_on_commit=expires)
        elif isinstance(node.func, ast.Attribute) and isinstance(receiver, HolderValue):
            held = receiver.attribute(node.func.attr)
            if isinstance(held, SessionMakerValue):
                return SessionValue(
                    origin=f"session from {ast.unparse(node.func)}()", expires_on_commit=held.expires_on_commit
                )
        made = analysis.factories.created(node, module=module)
        if made is not None and not isinstance(self._callee(node, state), FunctionRef):
            return made
        callee = self._callee(node, state, receiver=receiver)
        if callee is not None:
            return self._enter(callee, node, receiver, evaluated, state) or made
        if made is not None:
            return made
        symbol = analysis.project.resolve(node.func, module=module)
        if symbol is None and isinstance(node.func, ast.Name):
            named = state.values.get(node.func.id)
            symbol = named.cls if isinstance(named, ClassValue) else None  # `cls(...)` in a classmethod
        return self._construct(symbol, node, evaluated) if isinstance(symbol, ClassRef) else None

    def _select(self, selected: ast.expr) -> Value | None:
        """`select(Job)`: a query of the model (one the audit cannot read counts, opaque)."""
        symbol = self._analysis.project.resolve(selected, module=self._module)
        if isinstance(symbol, ClassRef):
            model = self._analysis.models.model(symbol)
            return QueryValue(model=model or opaque_model(symbol.node.name))
        if isinstance(symbol, ExternalRef | None) and (name := model_name(selected)) is not None:
            return QueryValue(model=opaque_model(name))
        return None

    def _arguments(self, node: ast.Call, state: FlowState) -> dict[int, Value]:
        evaluated: dict[int, Value] = {}
        for expr in [*node.args, *(item.value for item in node.keywords)]:
            if isinstance(expr, ast.Constant) and (expr.value is None or isinstance(expr.value, bool)):
                evaluated[id(expr)] = ConstantValue(value=expr.value)
                continue
            value = self._evaluate(expr.value if isinstance(expr, ast.Starred) else expr, state)
            if value is not None:
                evaluated[id(expr)] = value
        return evaluated

    def _is_external(self, func: ast.expr, names: frozenset[str]) -> bool:
        symbol = self._analysis.project.resolve(func, module=self._module)
        return isinstance(symbol, ExternalRef) and symbol.qualified_name in names

    def _is_external_or_unknown(self, func: ast.expr) -> bool:
        symbol = self._analysis.project.resolve(func, module=self._module)
        return symbol is None or isinstance(symbol, ExternalRef)

    # Sessions and queries

    def _session_call(self, key: str, node: ast.Call, evaluated: dict[int, Value], state: FlowState) -> Value | None:
        assert isinstance(node.func, ast.Attribute)
        method = node.func.attr
        first = evaluated.get(id(node.args[0])) if node.args else None
        if method in SESSION_WORK_METHODS:
            state.in_use.add(key)
        if method == "commit":
            state.commit(key)
            self._exits.released.add(key)
        elif method == "rollback":
            state.rollback(key)
            self._exits.released.add(key)
        elif method == "close":
            state.in_use.discard(key)
            self._exits.released.add(key)
        elif method in {"add", "add_all"}:
            for added in _listed(list(node.args)):
                state.attach(dotted_name(added) or "", key)
        elif method == "refresh" and node.args:
            state.refresh(dotted_name(node.args[0]) or "", _refreshed_attributes(node))
        elif method in {"get", "get_one"} and node.args:
            model = self._model_of(node.args[0])
            eager = eager_relationships(_listed([keyword(node, "options")]))
            return OrmValue(model=model, session=key, loaded=True, eager=eager) if model else None
        elif method in {"execute", "stream"} and isinstance(first, QueryValue):
            return replace(first, session=key, scalars=False)
        elif method in {"scalars", "stream_scalars", "exec"} and isinstance(first, QueryValue):
            return replace(first, session=key, scalars=True)
        elif method == "scalar" and isinstance(first, QueryValue):
            return replace(first, session=key).row()
        return None

    def _model_of(self, expr: ast.expr) -> ModelInfo | None:
        """The mapped class given to `session.get()`: read, or opaque when defined out of sight."""
        symbol = self._analysis.project.resolve(expr, module=self._module)
        if isinstance(symbol, ClassRef):
            return self._analysis.models.model(symbol) or opaque_model(symbol.node.name)
        name = model_name(expr)
        return opaque_model(name) if name is not None and isinstance(symbol, ExternalRef | None) else None

    def _check_json_mutation(self, column: ast.expr, node: ast.AST, state: FlowState) -> None:
        if not isinstance(column, ast.Attribute):
            return
        name = dotted_name(column.value)
        value = state.orm(name or "")
        if name is None or value is None or column.attr not in value.model.json_columns:
            return
        flagged = self._flagged_modified()
        if (name, column.attr) in flagged or (name, "*") in flagged:
            return  # `flag_modified(obj, "column")` tells SQLAlchemy about the change
        if self._assigned_later(name, column.attr, getattr(node, "lineno", 0)):
            return  # the column is given a new value afterwards: that value is written
        self._emit(JsonMutation, node, name=name, value=value, attribute=column.attr)

    def _assigned_later(self, owner: str, column: str, line: int) -> bool:
        return any(
            isinstance(node, ast.Assign)
            and node.lineno > line
            and any(dotted_name(target) == f"{owner}.{column}" for target in node.targets)
            for node in self._analysis.walker.body(self._function.node)
        )

    def _flagged_modified(self) -> set[tuple[str, str]]:
        """`(obj, column)` for every `flag_modified(obj, "column")` (or `flag_dirty(obj)`) in the function."""
        if self._flags is None:
            self._flags = set()
            for node in self._analysis.walker.body(self._function.node):
                if not (isinstance(node, ast.Call) and last_name(node.func) in {"flag_modified", "flag_dirty"}):
                    continue
                owner = dotted_name(node.args[0]) if node.args else None
                column = node.args[1] if len(node.args) > 1 else None
                if owner is not None and isinstance(column, ast.Constant) and isinstance(column.value, str):
                    self._flags.add((owner, column.value))
                elif owner is not None:
                    self._flags.add((owner, "*"))
        return self._flags

    def _sessions_worked_in(self, statements: list[ast.stmt], state: FlowState) -> dict[str, SessionValue]:
        """Sessions of `state` that `statements` run database work on (and so may leave failed)."""
        sessions = state.sessions()
        if not sessions:
            return {}
        worked: dict[str, SessionValue] = {}
        nested: set[str] = set()
        for node in self._analysis.walker.within(statements, scope=self._function.node):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            key = self._key(dotted_name(node.func.value) or "", state)
            if key in sessions and node.func.attr in SESSION_WORK_METHODS | {"commit"}:
                if node.func.attr == "begin_nested":
                    nested.add(key)
                worked[key] = sessions[key]
        # A savepoint (`begin_nested()`) rolls back to itself: the session stays usable.
        return {key: value for key, value in worked.items() if key not in nested}

    def _check_failed_session_write(
        self, handler: ast.ExceptHandler, failing: dict[str, SessionValue], state: FlowState
    ) -> None:
        """A status written in the handler, through a session of the failed work, before any rollback."""
        summaries = self._analysis.summaries
        if not summaries.writes_status(handler.body, caller=self._function):
            return
        pending = dict(failing)
        for node in self._analysis.walker.within(handler.body, scope=self._function.node):
            if not pending:
                return
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute):
                key = self._key(dotted_name(func.value) or "", state)
                if key in pending and func.attr in {"rollback", "close", "invalidate"}:
                    del pending[key]
                    continue
                if key in pending and func.attr in {"commit", "execute", "flush", "scalar", "scalars", "get"}:
                    self._emit(FailedSessionWrite, node, session=key)
                    return
            callee = summaries.callee(node, caller=self._function)
            if callee is None:
                continue
            summary = summaries.of(callee)
            bound = {p: name for p, expr in bind_arguments(node, callee).items() if (name := dotted_name(expr))}
            for item in summary.rolls_back_first:
                rolled = rebased(item, bound)
                if rolled is not None:
                    pending.pop(self._key(rolled, state), None)
            touched = {rebased(item, bound) for item in summary.uses | summary.commits}
            hit = sorted(
                self._key(key, state) for key in touched if key is not None and self._key(key, state) in pending
            )
            if hit and (summary.writes_status or any(True for _ in status_values([node]))):
                self._emit(FailedSessionWrite, node, session=hit[0])
                return

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
        analysis = self._analysis
        bound = {
            p: self._key(name, state) for p, expr in bind_arguments(node, callee).items() if (name := dotted_name(expr))
        }
        sessions = state.sessions()
        parameters = callee.parameter_names()
        if isinstance(receiver, HolderValue) and parameters and parameters[0] not in bound:
            # A receiver with no name (`Repo.from_session(session).get(...)`): its sessions are the
            # caller's own, found by value.
            for attribute, held in receiver.sessions().items():
                owners = [key for key, value in sessions.items() if value == held and "." not in key]
                if len(owners) == 1:
                    bound[f"{parameters[0]}.{attribute}"] = owners[0]
        if analysis.project.is_scanned(callee.module):
            outcome = analysis.walk(
                callee,
                entry=self._entry,
                in_task=self._in_task,
                arguments=self._bound_values(node, callee, receiver, evaluated),
                closure=self._closure(callee, state),
                depth=self._depth + 1,
                holding=frozenset(self._passed_holding(node, callee, state.holding()).values()),
            )
            released, in_use, returned = outcome.released, outcome.in_use, outcome.returned
        else:
            summary = analysis.summaries.of(callee)
            released, in_use, returned = summary.commits, summary.uses - summary.commits, None
            if returned is None:
                returned = analysis.factories.made_by_function(callee)
        for parameter in analysis.summaries.of(callee).modifies:
            state.modify(bound.get(parameter) or "")
        for item in released:
            key = rebased(item, bound)
            if key is not None and self._key(key, state) in sessions:
                state.commit(self._key(key, state))
                if key.partition(".")[0] in self._parameters:
                    self._exits.released.add(key)
        for item in in_use:
            key = rebased(item, bound)
            if key is not None and self._key(key, state) in sessions:
                state.in_use.add(self._key(key, state))
        # What the callee returns, with its sessions under the caller's names again.
        renamed = {p: key for p, key in bound.items() if key in sessions}
        return _renamed(returned, renamed) if returned else None

    def _passed_holding(self, call: ast.Call, callee: FunctionRef, holding: list[str] | set[str]) -> dict[str, str]:
        """The held sessions `call` hands to `callee` and that it works with: caller key -> key in the
        callee (`service.db` -> `self.db`). A held session the callee never touches stays the caller's
        to report, where the call waits."""
        if not holding:
            return {}
        summary = self._analysis.summaries.of(callee)
        touched = summary.uses | summary.commits
        passed: dict[str, str] = {}
        for parameter, expr in bind_arguments(call, callee).items():
            name = dotted_name(expr)
            if name is None:
                continue
            for key in holding:
                if key == name or key.startswith(f"{name}."):
                    inside = f"{parameter}{key[len(name) :]}"
                    if inside in touched:
                        passed[key] = inside
        return passed

    def _bound_values(
        self, call: ast.Call, callee: FunctionRef, receiver: Value | None, evaluated: dict[int, Value]
    ) -> dict[str, Value]:
        bound = bind_arguments(call, callee)
        renamed_sessions = {
            name: parameter
            for parameter, expr in bound.items()
            if isinstance(evaluated.get(id(expr)), SessionValue) and (name := dotted_name(expr))
        }
        values = {
            parameter: renamed
            for parameter, expr in bound.items()
            if id(expr) in evaluated and (renamed := _renamed(evaluated[id(expr)], renamed_sessions)) is not None
        }
        parameters = callee.parameter_names()
        if isinstance(receiver, HolderValue) and callee.owner is not None and parameters:
            values[parameters[0]] = receiver
        if callee.owner is not None and parameters and _is_classmethod(callee):
            # `Repository.from_session(session)`: `cls` is the class it was called on.
            owner = self._class_of(call.func.value) if isinstance(call.func, ast.Attribute) else None
            values[parameters[0]] = ClassValue(cls=owner or ClassRef(callee.module, callee.owner))
        for name, default in callee.defaults().items():
            # A flag left at its default is that constant in this call.
            if (
                name not in bound
                and isinstance(default, ast.Constant)
                and (default.value is None or isinstance(default.value, bool))
            ):
                values[name] = ConstantValue(value=default.value)
        return values

    def _class_of(self, expr: ast.expr) -> ClassRef | None:
        symbol = self._analysis.project.resolve(expr, module=self._module)
        return symbol if isinstance(symbol, ClassRef) else None

    def _closure(self, callee: FunctionRef, state: FlowState) -> dict[str, Value]:
        """What a nested function sees of the enclosing function's names."""
        if callee.node not in self._nested:
            return {}
        parameters = set(callee.parameter_names())
        return {name: value for name, value in state.values.items() if name.partition(".")[0] not in parameters}

    def _construct(self, cls: ClassRef, node: ast.Call, evaluated: dict[int, Value]) -> Value | None:
        analysis = self._analysis
        model = analysis.models.model(cls)
        if model is not None:
            return OrmValue(model=model)
        kind = analysis.types.class_kind(cls)
        if kind is not None:
            return value_of_kind(kind, origin=f"{cls.node.name}()")
        held = dict(analysis.summaries.holdings(cls))
        init = analysis.project.method(cls, "__init__")
        if init is not None:
            bound = bind_arguments(node, init, bound=True)
            for statement in analysis.walker.body(init.node):
                if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Name)):
                    continue
                value = evaluated.get(id(bound.get(statement.value.id)))
                for target in statement.targets:
                    if isinstance(value, SessionValue | OrmValue) and _is_self_attribute(target):
                        assert isinstance(target, ast.Attribute)
                        held[target.attr] = value
        return HolderValue(cls=cls, attributes=tuple(sorted(held.items()))) if held else None

    def _schedule(self, site: SchedulingSite, function: FunctionRef | None, *, state: FlowState) -> None:
        target = site.target_call
        if target is None:
            for argument in site.call.args:
                self._evaluate(argument, state)
            return
        receiver = self._evaluate(target.func.value, state) if isinstance(target.func, ast.Attribute) else None
        evaluated = self._arguments(target, state)
        handed = [
            (ast.unparse(expr), evaluated[id(expr)])
            for expr in [*target.args, *(item.value for item in target.keywords)]
            if id(expr) in evaluated
        ]
        if isinstance(receiver, HolderValue) and isinstance(target.func, ast.Attribute) and function is not None:
            used = _self_attributes(function, self._analysis.walker)
            kept = tuple((name, value) for name, value in receiver.attributes if name in used)
            if kept:
                handed.append((ast.unparse(target.func.value), HolderValue(cls=receiver.cls, attributes=kept)))
        closure = self._closure(function, state) if function else {}
        handed += self._free_sessions(function, closure)
        context = self._analysis.summaries.of(function).context_session if function is not None else None
        if site.concurrent and context is not None:
            # A task created now copies the context, and the session in it, to run beside its creator.
            name = context
            handed.append(
                (f"ContextVar {name}", SessionValue(origin=f"session in ContextVar `{name}`", context_var=name))
            )
        self._emit(TaskHandoff, site.call, site=site, handed=tuple(handed))
        if function is not None:
            arguments = self._bound_values(target, function, receiver, evaluated)
            self._analysis.site_arguments[id(site.call)].append((arguments, closure))

    def _free_sessions(self, function: FunctionRef | None, closure: dict[str, Value]) -> list[tuple[str, Value]]:
        """Sessions of the enclosing function that a nested function works with."""
        if function is None or not closure:
            return []
        used = _sessions_worked_with(function, self._analysis.walker)
        return [(name, value) for name, value in closure.items() if name in used and isinstance(value, SessionValue)]

    def _fan_out(self, node: ast.Call, state: FlowState) -> None:
        coroutines, many = _coroutine_expressions(node)
        carried: list[dict[str, SessionValue]] = []
        for coroutine in coroutines:
            if isinstance(coroutine, ast.Call):
                carried.append(self._carried_sessions(coroutine, state))
                continue
            collected = state.values.get(dotted_name(coroutine) or "")
            if isinstance(collected, CoroutinesValue) and collected.sessions:
                carried.append(dict(collected.sessions))
                many = many or collected.many
        counts = Counter(name for sessions in carried for name in sessions)
        shared = {name: value for sessions in carried for name, value in sessions.items() if many or counts[name] > 1}
        if shared:
            self._emit(
                ConcurrentSessionUse, node, sessions=tuple(sorted(shared.items())), how=f"{ast.unparse(node.func)}()"
            )

    def _carried_sessions(self, call: ast.Call, state: FlowState) -> dict[str, SessionValue]:
        """Sessions a coroutine call takes along: as arguments, on `self`, from the enclosing scope or a ContextVar."""
        carried: dict[str, SessionValue] = {}
        for expr in [*call.args, *(item.value for item in call.keywords)]:
            name = dotted_name(expr.value if isinstance(expr, ast.Starred) else expr) or ""
            value = state.values.get(name)
            if isinstance(value, SessionValue):
                carried[self._key(name, state)] = value
            elif isinstance(value, HolderValue):
                carried.update((f"{name}.{attribute}", session) for attribute, session in value.sessions().items())
        callee = self._callee(call, state)
        receiver = (
            state.values.get(dotted_name(call.func.value) or "") if isinstance(call.func, ast.Attribute) else None
        )
        if callee is not None and isinstance(receiver, HolderValue):
            used = _self_attributes(callee, self._analysis.walker)
            carried.update((f"self.{a}", s) for a, s in receiver.sessions().items() if a in used)
        if callee is not None:
            carried.update(
                (name, value)
                for name, value in self._free_sessions(callee, self._closure(callee, state))
                if isinstance(value, SessionValue)
            )
            context = self._analysis.summaries.of(callee).context_session
            if context is not None:
                carried[f"ContextVar {context}"] = SessionValue(
                    origin=f"session in ContextVar `{context}`", context_var=context
                )
        return carried


# Words without which a function's source names no session, sessionmaker, engine or connection:
# a cheap test before reading its types.
SESSION_WORDS = re.compile(
    r"[Ss]ession|[Ee]ngine|[Cc]onn|[Mm]aker|\bdb\b|_db\b|\bdb_|[Tt]ransaction|begin\(|ContextVar"
)


def _source_of(function: FunctionRef) -> str:
    node = function.node
    start = min((decorator.lineno for decorator in node.decorator_list), default=node.lineno)
    return function.module.lines(start, node.end_lineno or node.lineno)


_SESSION_LIKE = SessionValue | SessionMakerValue | EngineValue


def _renamed(value: Value | None, sessions: dict[str, str]) -> Value | None:
    """`value` as seen across a call: its session under the other side's name (or none)."""
    if isinstance(value, OrmValue | QueryValue) and value.session is not None:
        return replace(value, session=sessions.get(value.session))
    if isinstance(value, TupleValue):
        return TupleValue(items=tuple(_renamed(item, sessions) for item in value.items))
    return value


def _coroutine_expressions(call: ast.Call) -> tuple[list[ast.expr], bool]:
    """The awaitables given to gather()/wait(), and whether there are many of one kind."""
    coroutines: list[ast.expr] = []
    many = False
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


def _self_attributes(function: FunctionRef, walker: Walker) -> set[str]:
    """The attributes of `self` a method reads or writes."""
    return {
        node.attr
        for node in walker.everything(function.node)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
    }


def _is_classmethod(function: FunctionRef) -> bool:
    return any(last_name(decorator) == "classmethod" for decorator in function.node.decorator_list)


def _is_self_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef, walker: Walker) -> set[str]:
    """Names bound inside `function` (so they never mean a module global), minus `global` ones."""
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    names = {argument.arg for argument in every if argument is not None}
    declared_global: set[str] = set()
    for node in walker.body(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared_global.update(node.names)
    return names - declared_global


def _listed(expressions: list[ast.expr | None]) -> list[ast.expr]:
    """The expressions, with list and tuple displays opened: `add_all([a, b])` adds `a` and `b`."""
    found: list[ast.expr] = []
    for expression in expressions:
        if isinstance(expression, ast.List | ast.Tuple):
            found.extend(expression.elts)
        elif expression is not None:
            found.append(expression)
    return found


def _refreshed_attributes(node: ast.Call) -> set[str]:
    """The names in `refresh(obj, ["items"])` or `attribute_names=[...]`."""
    listed: list[ast.expr | None] = [*node.args[1:2]] or [keyword(node, "attribute_names")]
    return {
        item.value for item in _listed(list(listed)) if isinstance(item, ast.Constant) and isinstance(item.value, str)
    }


def _sessions_worked_with(function: FunctionRef, walker: Walker) -> set[str]:
    """Names `function` runs session work on (`name.execute(...)`, `name.commit()`) or passes to a call.

    Reading `session.info` is not work on the session's connection.
    """
    worked = set()
    for node in walker.everything(function.node):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in SESSION_METHODS:
            worked.add(func.value.id)
        arguments = [*node.args, *(item.value for item in node.keywords)]
        worked.update(argument.id for argument in arguments if isinstance(argument, ast.Name))
    return worked


def iter_async_functions(functions: list[FunctionRef]) -> Iterator[FunctionRef]:
    return (function for function in functions if function.is_async)
