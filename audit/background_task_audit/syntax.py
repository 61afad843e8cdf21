"""Small readings of the syntax tree shared by every part of the audit.

The walks of a function body are kept by a `Walker` for one audit: discovery, summaries,
the flow analysis and several checks read the same bodies. The walker goes away with the
audit, and the trees with it.
"""

import ast
from collections.abc import Iterator

SCOPES = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda


def dotted_name(expr: ast.expr | None) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = dotted_name(expr.value)
        return f"{base}.{expr.attr}" if base else None
    return None


def last_name(expr: ast.expr | None) -> str | None:
    """The rightmost name of `expr`: `add_task` for `self.tasks.add_task`, `f` for `f()`."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Call):
        return last_name(expr.func)
    return None


def body_nodes(node: ast.AST) -> list[ast.AST]:
    """Every node inside `node`, not descending into nested functions, classes or lambdas."""
    found: list[ast.AST] = []
    pending = list(ast.iter_child_nodes(node))[::-1]
    while pending:
        child = pending.pop()
        if isinstance(child, SCOPES):
            continue
        found.append(child)
        pending.extend(reversed(list(ast.iter_child_nodes(child))))
    return found


def calls_by_function(tree: ast.Module, names: frozenset[str]) -> dict[int, list[ast.Call]]:
    """Calls whose last name is one of `names`, by the function (id of its node) whose body holds them."""
    found: dict[int, list[ast.Call]] = {}
    pending: list[tuple[ast.AST, int]] = [(child, 0) for child in ast.iter_child_nodes(tree)]
    while pending:
        node, owner = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            owner = id(node)
        elif isinstance(node, ast.Call) and owner and last_name(node.func) in names:
            found.setdefault(owner, []).append(node)
        pending.extend((child, owner) for child in ast.iter_child_nodes(node))
    return found


class _Scope:
    """A function body in pre-order, with where each node's subtree ends: any part is a slice."""

    def __init__(self, scope: ast.AST) -> None:
        self.order: list[ast.AST] = []
        self.position: dict[int, int] = {}
        self.end: dict[int, int] = {}
        self.parent: dict[int, ast.AST] = {}
        self._visit(scope)

    def _visit(self, scope: ast.AST) -> None:
        pending: list[tuple[ast.AST, bool]] = [(child, False) for child in reversed(list(ast.iter_child_nodes(scope)))]
        for child in ast.iter_child_nodes(scope):
            self.parent[id(child)] = scope
        while pending:
            node, closing = pending.pop()
            if closing:
                self.end[id(node)] = len(self.order)
                continue
            if isinstance(node, SCOPES):
                continue
            self.position[id(node)] = len(self.order)
            self.order.append(node)
            pending.append((node, True))
            children = list(ast.iter_child_nodes(node))
            for child in children:
                self.parent[id(child)] = node
            pending.extend((child, False) for child in reversed(children))

    def inside(self, node: ast.AST) -> list[ast.AST] | None:
        start = self.position.get(id(node))
        return None if start is None else self.order[start + 1 : self.end[id(node)]]


class Walker:
    """The walks of one audit, each done once."""

    def __init__(self) -> None:
        self._bodies: dict[int, tuple[ast.AST, list[ast.AST]]] = {}
        self._everything: dict[int, tuple[ast.AST, list[ast.AST]]] = {}
        self._scopes: dict[int, tuple[ast.AST, _Scope]] = {}

    def scope(self, node: ast.AST) -> _Scope:
        """`node`'s body (a function, a module), indexed once."""
        kept = self._scopes.get(id(node))
        if kept is None:
            kept = self._scopes[id(node)] = (node, _Scope(node))
        return kept[1]

    def parent(self, node: ast.AST, *, scope: ast.AST) -> ast.AST | None:
        return self.scope(scope).parent.get(id(node))

    def within(self, statements: list[ast.stmt], *, scope: ast.AST) -> list[ast.AST]:
        """The statements of `scope` given and every node inside them, from the scope's index."""
        index = self.scope(scope)
        found: list[ast.AST] = []
        for statement in statements:
            inside = index.inside(statement)
            if inside is None:
                found += [statement, *self.body(statement)] if not isinstance(statement, SCOPES) else []
            else:
                found += [statement, *inside]
        return found

    def body(self, node: ast.AST) -> list[ast.AST]:
        """`body_nodes(node)`, kept."""
        kept = self._bodies.get(id(node))
        if kept is None:
            kept = self._bodies[id(node)] = (node, body_nodes(node))
        return kept[1]

    def everything(self, node: ast.AST) -> list[ast.AST]:
        """`ast.walk(node)`, kept."""
        kept = self._everything.get(id(node))
        if kept is None:
            kept = self._everything[id(node)] = (node, list(ast.walk(node)))
        return kept[1]


def module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time, through `if`, `try` and `with` blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If | ast.With):
            yield from module_level_statements(statement.body)
            yield from module_level_statements(getattr(statement, "orelse", []))
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody, *(h.body for h in statement.handlers)):
                yield from module_level_statements(block)
