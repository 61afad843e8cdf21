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
        pending.extend(list(ast.iter_child_nodes(child))[::-1])
    return found


class Walker:
    """The walks of one audit, each done once."""

    def __init__(self) -> None:
        self._bodies: dict[int, tuple[ast.AST, list[ast.AST]]] = {}
        self._everything: dict[int, tuple[ast.AST, list[ast.AST]]] = {}

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

    def statements(self, statements: list[ast.stmt]) -> Iterator[ast.AST]:
        """The statements and every node inside them, nested scopes left out."""
        for statement in statements:
            if not isinstance(statement, SCOPES):
                yield statement
                yield from self.body(statement)


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
