"""How sessions, sessionmakers, connections and engines are made in the scanned code.

Known by type (see `kinds`): SQLAlchemy's and SQLModel's constructors, sessionmakers bound
at module level, functions and context managers that yield a session (followed a few
calls deep, or declared to return one), FastAPI dependencies (`Depends(get_session)`,
`SessionDep = Annotated[AsyncSession, Depends(...)]`), configured factories, and
module-level sessions and engines. A function the audit cannot see into and whose
declared type says nothing is not taken for a session, whatever its name.
"""

import ast
from dataclasses import replace

from background_task_audit.kinds import ENGINE_FACTORIES, Kind, TypeInfo, Types
from background_task_audit.project import AssignmentRef, ExternalRef, FunctionRef, Project, Symbol
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import Walker, last_name, module_level_statements
from background_task_audit.values import ClientValue, EngineValue, SessionMakerValue, SessionValue, Value

FOLLOW_DEPTH = 4
LOOP_BOUND_FACTORIES = frozenset({"create_async_engine", "async_sessionmaker"})
CLIENT_KINDS = frozenset({Kind.http_client, Kind.blocking_http_client, Kind.network_client})


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((item.value for item in call.keywords if item.arg == name), None)


def expire_on_commit(*calls: ast.Call) -> bool | None:
    """The first explicit `expire_on_commit=` among `calls`; SQLAlchemy's default is True."""
    for call in calls:
        value = keyword(call, "expire_on_commit")
        if value is not None:
            return value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else None
    return True


def value_of_kind(info: TypeInfo | None, *, origin: str) -> Value | None:
    """A value of a declared kind, where nothing more is known about it."""
    if info is Kind.session:
        return SessionValue(origin=origin, expires_on_commit=None)
    if info is Kind.sessionmaker:
        return SessionMakerValue(origin=origin, expires_on_commit=None)
    if info is Kind.engine:
        return EngineValue(origin=origin)
    if info is Kind.http_client:
        return ClientValue(label="HTTP", methods=HTTP_METHODS)
    if info is Kind.blocking_http_client:
        return ClientValue(label=BLOCKING_HTTP, methods=HTTP_METHODS)
    if info is Kind.network_client:
        return ClientValue(label=origin)
    return None


BLOCKING_HTTP = "HTTP (sync)"
HTTP_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream", "fetch"}
)


class SessionFactories:
    def __init__(self, project: Project, types: Types, walker: Walker) -> None:
        self._project = project
        self._types = types
        self._walker = walker
        self._long_lived: dict[int, dict[str, SessionValue]] = {}
        self._made_by: dict[ast.AST, Value | None] = {}
        self._created: dict[int, tuple[ast.Call, Value | None]] = {}

    @property
    def types(self) -> Types:
        return self._types

    def is_external(self, expr: ast.expr, names: frozenset[str], *, module: SourceModule) -> bool:
        """Whether `expr` is one of SQLAlchemy's (or SQLModel's) `names`."""
        symbol = self._project.resolve(expr, module=module)
        return (
            isinstance(symbol, ExternalRef)
            and symbol.qualified_name.partition(".")[0] in {"sqlalchemy", "sqlmodel"}
            and symbol.qualified_name.rpartition(".")[2] in names
        )

    def created(self, call: ast.Call, *, module: SourceModule, depth: int = 0) -> Value | None:
        """What `call` makes, if it makes a session, sessionmaker, engine or network client."""
        kept = self._created.get(id(call))
        if kept is not None and kept[0] is call:
            return kept[1]
        made = self._create(call, module=module, depth=depth)
        if depth == 0:
            # Keyed by the node, kept alive beside its answer so that its id stays its own.
            self._created[id(call)] = (call, made)
        return made

    def _create(self, call: ast.Call, *, module: SourceModule, depth: int) -> Value | None:
        func = call.func
        if not isinstance(func, ast.Name | ast.Attribute):
            return None
        symbol = self._project.resolve(func, module=module)
        made = self._made_by_symbol(symbol, call, label=_Label(func), depth=depth)
        if made is not None:
            return made
        if isinstance(func, ast.Attribute) and func.attr in {"begin", "connect"}:
            owner = self._project.resolve(func.value, module=module)
            made_by_owner = self._module_level_value(owner)
            if isinstance(made_by_owner, SessionMakerValue) and func.attr == "begin":
                origin = f"session from {_Label(func)}"
                return SessionValue(origin=origin, expires_on_commit=made_by_owner.expires_on_commit)
            if isinstance(made_by_owner, EngineValue):
                return SessionValue(origin=f"connection from {_Label(func)}", connection=True)
        return None

    def _made_by_symbol(self, symbol: Symbol | None, call: ast.Call, *, label: "_Label", depth: int) -> Value | None:
        if isinstance(symbol, ExternalRef):
            return self._made_by_external(symbol.qualified_name, call, label=label)
        if isinstance(symbol, AssignmentRef):
            maker = self._module_level_value(symbol)
            if isinstance(maker, SessionMakerValue):
                return SessionValue(origin=f"session from {label}", expires_on_commit=_merged_expiry(call, maker))
            return None
        if isinstance(symbol, FunctionRef):
            made = self.made_by_function(symbol, depth=depth)
            if isinstance(made, SessionValue):
                return replace(made, origin=f"session from {label}")
            return replace(made, origin=str(label)) if isinstance(made, SessionMakerValue | EngineValue) else made
        if symbol is not None and not isinstance(symbol, FunctionRef):
            info = self._types.of_symbol(symbol)
            if info is Kind.session:
                return SessionValue(origin=f"session from {label}", expires_on_commit=expire_on_commit(call))
            if info in CLIENT_KINDS:
                return value_of_kind(info, origin=str(label))
        return None

    def _made_by_external(self, qualified_name: str, call: ast.Call, *, label: "_Label | str") -> Value | None:
        root, last = qualified_name.partition(".")[0], qualified_name.rpartition(".")[2]
        if self._types.is_session_factory(qualified_name):
            return SessionValue(origin=f"session from {label}", expires_on_commit=None)
        if root in {"sqlalchemy", "sqlmodel"} and last in ENGINE_FACTORIES:
            return EngineValue(origin=str(label))
        info = self._types.external_kind(qualified_name)
        if info is Kind.session:
            return SessionValue(origin=f"session from {label}", expires_on_commit=expire_on_commit(call))
        if info is Kind.sessionmaker:
            return SessionMakerValue(origin=str(label), expires_on_commit=expire_on_commit(call))
        if info in CLIENT_KINDS:
            return value_of_kind(info, origin=qualified_name.partition(".")[0])
        return None

    def _module_level_value(self, symbol: Symbol | None) -> Value | None:
        """What a module-level `name = factory(...)` holds: a sessionmaker, an engine..."""
        if isinstance(symbol, AssignmentRef) and isinstance(symbol.value, ast.Call):
            inner = self._project.resolve(symbol.value.func, module=symbol.module)
            if isinstance(inner, ExternalRef):
                return self._made_by_external(inner.qualified_name, symbol.value, label=f"{symbol.name}")
        return None

    def module_level_value(self, symbol: Symbol | None) -> Value | None:
        return self._module_level_value(symbol)

    def made_by_function(self, function: FunctionRef, *, depth: int = 0) -> Value | None:
        """What calling (or entering) `function` hands out: by its declared return type, or its body."""
        if function.node in self._made_by:
            return self._made_by[function.node]
        if depth >= FOLLOW_DEPTH:
            return None
        self._made_by[function.node] = None  # a recursive factory makes nothing
        declared = self._types.returned(function.node.returns, module=function.module)
        made = value_of_kind(declared, origin=f"{function.qualname}()") if declared is not None else None
        if made is None or isinstance(made, SessionValue):
            made = self._made_in(function, depth=depth) or made
        self._made_by[function.node] = made
        return made

    def _made_in(self, function: FunctionRef, *, depth: int) -> Value | None:
        """The session (or maker, engine) a factory function or dependency returns or yields."""
        nodes = self._walker.body(function.node)
        handed_out: set[str] = set()
        candidates: list[ast.expr] = []
        for node in nodes:
            if isinstance(node, ast.Yield | ast.Return) and node.value is not None:
                if isinstance(node.value, ast.Name):
                    handed_out.add(node.value.id)
                candidates.append(node.value)
        for node in nodes:
            if isinstance(node, ast.With | ast.AsyncWith):
                candidates += [
                    item.context_expr for item in node.items if _bound_name(item.optional_vars) in handed_out
                ]
            elif isinstance(node, ast.Assign) and any(_bound_name(target) in handed_out for target in node.targets):
                candidates.append(node.value)
        for candidate in candidates:
            if isinstance(candidate, ast.Call):
                made = self.created(candidate, module=function.module, depth=depth + 1)
                if made is not None:
                    return made
            elif isinstance(candidate, ast.Name | ast.Attribute):
                found = self._module_level_value(self._project.resolve(candidate, module=function.module))
                if found is not None:
                    return found
        return None

    def request_session(
        self, annotation: ast.expr | None, default: ast.expr | None, *, module: SourceModule, depth: int = 0
    ) -> SessionValue | None:
        """The session a FastAPI dependency injects into a parameter, if it injects one."""
        if isinstance(default, ast.Call) and last_name(default.func) == "Depends":
            return self._from_dependency(default, annotation, module=module)
        if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Annotated":
            parts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
            depends = [part for part in parts[1:] if isinstance(part, ast.Call) and last_name(part.func) == "Depends"]
            return self._from_dependency(depends[0], parts[0], module=module) if depends else None
        if isinstance(annotation, ast.Name | ast.Attribute) and depth < FOLLOW_DEPTH:
            alias = self._project.resolve(annotation, module=module)
            if isinstance(alias, AssignmentRef):
                return self.request_session(alias.value, None, module=alias.module, depth=depth + 1)
        return None

    def _from_dependency(
        self, depends: ast.Call, declared: ast.expr | None, *, module: SourceModule
    ) -> SessionValue | None:
        dependency = depends.args[0] if depends.args else keyword(depends, "dependency")
        if dependency is None:
            # `Annotated[AsyncSession, Depends()]`: the class itself is the dependency.
            dependency = declared
        if dependency is None:
            return None
        origin = f"request session from Depends({ast.unparse(dependency)})"
        made = self.created(ast.Call(func=dependency, args=[], keywords=[]), module=module)
        if isinstance(made, SessionValue):
            return replace(made, origin=origin, from_request=True)
        if declared is not None and self._types.of_annotation(declared, module=module) is Kind.session:
            return SessionValue(origin=origin, from_request=True)
        return None

    def is_session_type(self, annotation: ast.expr | None, *, module: SourceModule) -> bool:
        return self._types.of_annotation(annotation, module=module) is Kind.session

    def creates_async_session(self, call: ast.Call, *, module: SourceModule) -> bool:
        """`AsyncSession(...)`, or a call of a name bound to `async_sessionmaker(...)`."""
        if self.is_external(call.func, frozenset({"AsyncSession"}), module=module):
            return True
        symbol = self._project.resolve(call.func, module=module)
        if isinstance(symbol, AssignmentRef) and isinstance(symbol.value, ast.Call):
            return self.is_external(symbol.value.func, frozenset({"async_sessionmaker"}), module=symbol.module)
        return False

    def long_lived_sessions(self, module: SourceModule) -> dict[str, SessionValue]:
        """Sessions kept in module globals: created at import or assigned through `global`."""
        if id(module) not in self._long_lived:
            self._long_lived[id(module)] = self._find_long_lived(module) if module.mentions(("ession",)) else {}
        return self._long_lived[id(module)]

    def _find_long_lived(self, module: SourceModule) -> dict[str, SessionValue]:
        assignments = [s for s in module_level_statements(module.tree.body) if isinstance(s, ast.Assign)]
        if "global" in module.text:
            everything = self._walker.everything(module.tree)
            declared_global = {name for node in everything if isinstance(node, ast.Global) for name in node.names}
            assignments += [
                node
                for node in everything
                if isinstance(node, ast.Assign)
                and any(_bound_name(target) in declared_global for target in node.targets)
            ]
        found = {}
        for assignment in assignments:
            if not isinstance(assignment.value, ast.Call):
                continue
            session = self.created(assignment.value, module=module)
            if not isinstance(session, SessionValue):
                continue
            for target in assignment.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = replace(session, origin=f"module-level session `{target.id}`", long_lived=True)
        return found

    def module_engines(self, module: SourceModule) -> dict[str, ast.Assign]:
        """Engines and sessionmakers bound to module globals at import time."""
        return {
            target.id: statement
            for statement in module_level_statements(module.tree.body)
            if isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Call)
            and self.is_external(statement.value.func, ENGINE_FACTORIES | LOOP_BOUND_FACTORIES, module=module)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }


class _Label:
    """`func()` as source text, made only when a message needs it."""

    def __init__(self, func: ast.expr) -> None:
        self._func = func

    def __str__(self) -> str:
        return f"{ast.unparse(self._func)}()"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _merged_expiry(call: ast.Call, maker: SessionMakerValue) -> bool | None:
    value = keyword(call, "expire_on_commit")
    if value is not None:
        return value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else None
    return maker.expires_on_commit


def _bound_name(target: ast.expr | None) -> str | None:
    return target.id if isinstance(target, ast.Name) else None
