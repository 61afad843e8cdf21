"""How sessions, connections and engines are made in the scanned code.

Recognises SQLAlchemy's constructors, sessionmakers bound at module level, functions and
context managers that yield a session (followed a few calls deep), FastAPI dependencies
(`Depends(get_session)`, `SessionDep = Annotated[AsyncSession, Depends(...)]`), and
module-level sessions and engines. A factory the audit cannot see into counts as a
session when its name says so, with `expire_on_commit` unknown.
"""

import ast
from dataclasses import replace

from background_task_audit.project import (
    AssignmentRef,
    ExternalRef,
    FunctionRef,
    Project,
)
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import all_nodes, last_name, module_level_statements
from background_task_audit.values import SessionValue

SESSION_CLASSES = ("AsyncSession", "Session", "AsyncConnection", "Connection")
SESSIONMAKERS = ("async_sessionmaker", "sessionmaker", "async_scoped_session", "scoped_session")
ENGINE_FACTORIES = ("create_async_engine", "create_engine")
FOLLOW_DEPTH = 4


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((item.value for item in call.keywords if item.arg == name), None)


def _expire_on_commit(*calls: ast.Call) -> bool | None:
    """The first explicit `expire_on_commit=` among `calls`; SQLAlchemy's default is True."""
    for call in calls:
        value = keyword(call, "expire_on_commit")
        if value is not None:
            return value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else None
    return True


class SessionFactories:
    def __init__(self, project: Project) -> None:
        self._project = project
        self._long_lived: dict[int, dict[str, SessionValue]] = {}
        self._made_by: dict[ast.AST, SessionValue | None] = {}

    def is_named(self, expr: ast.expr, names: tuple[str, ...], *, module: SourceModule) -> bool:
        """Whether `expr` is SQLAlchemy's `names` (imported from sqlalchemy, or left unresolved)."""
        symbol = self._project.resolve(expr, module=module)
        if isinstance(symbol, ExternalRef):
            return symbol.qualified_name.startswith("sqlalchemy") and symbol.is_one_of(names)
        return symbol is None and last_name(expr) in names

    def created_session(self, expr: ast.expr, *, module: SourceModule, depth: int = 0) -> SessionValue | None:
        """The session `expr` creates, if it is a call that creates one."""
        if not isinstance(expr, ast.Call):
            return None
        label = f"{ast.unparse(expr.func)}()"
        func = expr.func
        if self.is_named(func, SESSION_CLASSES, module=module):
            return SessionValue(origin=f"session from {label}", expires_on_commit=_expire_on_commit(expr))
        maker = self._sessionmaker(func.value if _is_attribute(func, "begin") else func, module=module)
        if maker is not None:
            return SessionValue(origin=f"session from {label}", expires_on_commit=_expire_on_commit(expr, maker.value))
        if _is_attribute(func, "connect", "begin") and self.is_engine(func.value, module=module):
            return SessionValue(origin=f"connection from {label}", expires_on_commit=None)
        symbol = self._project.resolve(func, module=module)
        if isinstance(symbol, FunctionRef):
            made = self._session_made_by(symbol, depth=depth)
            return replace(made, origin=f"session from {label}") if made else None
        if "session" in (last_name(func) or "").lower() and not isinstance(symbol, ExternalRef | AssignmentRef):
            return SessionValue(origin=f"session from {label}", expires_on_commit=None)
        return None

    def creates_async_session(self, call: ast.Call, *, module: SourceModule) -> bool:
        """`AsyncSession(...)`, or a call of a name bound to `async_sessionmaker(...)`."""
        if self.is_named(call.func, ("AsyncSession",), module=module):
            return True
        maker = self._sessionmaker(call.func, module=module)
        return maker is not None and self.is_named(maker.value.func, ("async_sessionmaker",), module=maker.module)

    def _sessionmaker(self, expr: ast.expr, *, module: SourceModule) -> AssignmentRef | None:
        """The module-level `name = async_sessionmaker(...)` that `expr` refers to."""
        symbol = self._project.resolve(expr, module=module)
        if isinstance(symbol, AssignmentRef) and isinstance(symbol.value, ast.Call):
            if self.is_named(symbol.value.func, SESSIONMAKERS, module=symbol.module):
                return symbol
        return None

    def is_engine(self, expr: ast.expr, *, module: SourceModule) -> bool:
        symbol = self._project.resolve(expr, module=module)
        if isinstance(symbol, AssignmentRef) and isinstance(symbol.value, ast.Call):
            return self.is_named(symbol.value.func, ENGINE_FACTORIES, module=symbol.module)
        return "engine" in (last_name(expr) or "").lower()

    def _session_made_by(self, function: FunctionRef, *, depth: int) -> SessionValue | None:
        if function.node not in self._made_by and depth < FOLLOW_DEPTH:
            self._made_by[function.node] = self._session_made_in(function, depth=depth)
        return self._made_by.get(function.node)

    def _session_made_in(self, function: FunctionRef, *, depth: int) -> SessionValue | None:
        """The session a factory function or dependency returns or yields."""
        handed_out = set()
        candidates: list[ast.expr] = []
        for node in all_nodes(function.node):
            if isinstance(node, ast.Yield | ast.Return) and node.value is not None:
                if isinstance(node.value, ast.Name):
                    handed_out.add(node.value.id)
                candidates.append(node.value)
        for node in all_nodes(function.node):
            if isinstance(node, ast.With | ast.AsyncWith):
                candidates += [
                    item.context_expr for item in node.items if _bound_name(item.optional_vars) in handed_out
                ]
            elif isinstance(node, ast.Assign) and any(_bound_name(target) in handed_out for target in node.targets):
                candidates.append(node.value)
        for candidate in candidates:
            session = self.created_session(candidate, module=function.module, depth=depth + 1)
            if session is not None:
                return session
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
        if annotation is not None and depth < FOLLOW_DEPTH:
            alias = self._project.resolve(annotation, module=module)
            if isinstance(alias, AssignmentRef):
                return self.request_session(alias.value, None, module=alias.module, depth=depth + 1)
        return None

    def _from_dependency(
        self, depends: ast.Call, declared: ast.expr | None, *, module: SourceModule
    ) -> SessionValue | None:
        if not depends.args:
            return None
        dependency = depends.args[0]
        origin = f"request session from Depends({ast.unparse(dependency)})"
        made = self.created_session(ast.Call(func=dependency, args=[], keywords=[]), module=module)
        if made is not None:
            return replace(made, origin=origin, from_request=True)
        if declared is not None and self.is_session_type(declared, module=module):
            return SessionValue(origin=origin, from_request=True)
        return None

    def is_session_type(self, annotation: ast.expr | None, *, module: SourceModule) -> bool:
        if annotation is None:
            return False
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            return annotation.value.rpartition(".")[2] in SESSION_CLASSES
        if isinstance(annotation, ast.BinOp):
            return self.is_session_type(annotation.left, module=module) or self.is_session_type(
                annotation.right, module=module
            )
        if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Optional":
            return self.is_session_type(annotation.slice, module=module)
        return isinstance(annotation, ast.Name | ast.Attribute) and self.is_named(
            annotation, SESSION_CLASSES, module=module
        )

    def long_lived_sessions(self, module: SourceModule) -> dict[str, SessionValue]:
        """Sessions kept in module globals: created at import or assigned through `global`."""
        if id(module) not in self._long_lived:
            self._long_lived[id(module)] = self._find_long_lived(module)
        return self._long_lived[id(module)]

    def _find_long_lived(self, module: SourceModule) -> dict[str, SessionValue]:
        assignments = [s for s in module_level_statements(module.tree.body) if isinstance(s, ast.Assign)]
        declared_global = {
            name for node in all_nodes(module.tree) if isinstance(node, ast.Global) for name in node.names
        }
        assignments += [
            node
            for node in all_nodes(module.tree)
            if isinstance(node, ast.Assign) and any(_bound_name(target) in declared_global for target in node.targets)
        ]
        found = {}
        for assignment in assignments:
            session = self.created_session(assignment.value, module=module)
            for target in assignment.targets if session else []:
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
            and self.is_named(statement.value.func, ENGINE_FACTORIES + SESSIONMAKERS, module=module)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }


def _is_attribute(expr: ast.expr, *names: str) -> bool:
    return isinstance(expr, ast.Attribute) and expr.attr in names


def _bound_name(target: ast.expr | None) -> str | None:
    return target.id if isinstance(target, ast.Name) else None
