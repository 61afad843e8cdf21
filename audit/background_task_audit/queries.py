"""What a `select()` carries through execution: the model, its loader options, its rows."""

import ast
from dataclasses import replace

from background_task_audit.syntax import last_name
from background_task_audit.values import ALL_RELATIONSHIPS, OrmValue, QueryValue, Value

EAGER_OPTIONS = frozenset({"selectinload", "joinedload", "subqueryload", "immediateload", "contains_eager", "noload"})
LOUD_OPTIONS = frozenset({"raiseload"})
QUERY_BUILDERS = frozenset(
    {"where", "filter", "filter_by", "order_by", "limit", "offset", "join", "outerjoin", "execution_options"}
    | {"distinct", "group_by", "having", "unique", "all", "fetchall", "partitions", "yield_per", "fetchmany"}
)
SCALAR_TAKERS = frozenset({"scalar_one", "scalar_one_or_none", "scalar"})
ROW_TAKERS = frozenset({"first", "one", "one_or_none"})


def row(value: Value | None) -> OrmValue | None:
    """One ORM instance of a query or result (iterated or indexed), else nothing known."""
    return value.row() if isinstance(value, QueryValue) and value.scalars else None


def query_call(query: QueryValue, node: ast.Call) -> Value | None:
    """The value of `query.method(...)`: the same query, more options, or one of its rows."""
    assert isinstance(node.func, ast.Attribute)
    method = node.func.attr
    if method == "options":
        return replace(query, eager=query.eager | eager_relationships(node.args))
    if method == "scalars":
        return replace(query, scalars=True)
    if method in QUERY_BUILDERS:
        return query
    if method in SCALAR_TAKERS:
        return query.row()
    return row(query) if method in ROW_TAKERS else None


def eager_relationships(options: list[ast.expr]) -> frozenset[str]:
    """Relationships that loader options load up front; raiseload makes every other one loud.

    Options the audit cannot read (passed in a variable, a parameter, `*options`) may load
    anything: every relationship then counts as loaded.
    """
    names: set[str] = set()
    for option in options:
        if not isinstance(option, ast.Call):
            return ALL_RELATIONSHIPS
        for call in _chain(option):
            strategy = last_name(call.func)
            if strategy in LOUD_OPTIONS:
                return ALL_RELATIONSHIPS
            if strategy == "options":
                nested = eager_relationships(call.args)
                if nested == ALL_RELATIONSHIPS:
                    return nested
                names |= nested
            if strategy in EAGER_OPTIONS and call.args:
                name = relationship_name(call.args[0])
                if name is not None:
                    names.add(name)
    return frozenset(names)


def relationship_name(expr: ast.expr) -> str | None:
    """`items` in `Job.items`, `Job.items.and_(...)`, `Job.items.of_type(...)` or `"items"`."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        return relationship_name(expr.func.value)
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return None


def _chain(option: ast.Call) -> list[ast.Call]:
    """`selectinload(A.b).joinedload(B.c)`: each call of the chain."""
    calls = []
    current: ast.expr = option
    while isinstance(current, ast.Call):
        calls.append(current)
        current = current.func.value if isinstance(current.func, ast.Attribute) else current.func
    return calls
