"""Small readings of the syntax tree shared by every part of the audit.

The walks are cached per node: the same function bodies are read by discovery,
summaries, the flow analysis and several checks.
"""

import ast
from collections.abc import Iterator
from functools import cache

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


@cache
def body_nodes(node: ast.AST) -> tuple[ast.AST, ...]:
    """Every node inside `node`, not descending into nested functions, classes or lambdas."""
    found = []
    pending = list(ast.iter_child_nodes(node))[::-1]
    while pending:
        child = pending.pop()
        if isinstance(child, SCOPES):
            continue
        found.append(child)
        pending.extend(list(ast.iter_child_nodes(child))[::-1])
    return tuple(found)


@cache
def all_nodes(node: ast.AST) -> tuple[ast.AST, ...]:
    """`ast.walk(node)`, kept."""
    return tuple(ast.walk(node))


def statements_nodes(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    for statement in statements:
        if not isinstance(statement, SCOPES):
            yield statement
            yield from body_nodes(statement)


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
