"""What a `select()` carries through execution: the model, its loader options, its rows."""

import ast
from dataclasses import replace

from background_task_audit.syntax import all_nodes, last_name
from background_task_audit.values import ALL_RELATIONSHIPS, QueryValue, Value

EAGER_OPTIONS = frozenset({"selectinload", "joinedload", "subqueryload", "immediateload", "contains_eager"})
LOUD_OPTIONS = frozenset({"raiseload"})
QUERY_BUILDERS = frozenset(
    {"where", "filter", "filter_by", "order_by", "limit", "offset", "join", "outerjoin", "execution_options"}
    | {"distinct", "group_by", "having", "scalars", "unique", "all", "fetchall", "partitions", "yield_per"}
)
ROW_TAKERS = frozenset({"scalar_one", "scalar_one_or_none", "first", "one", "one_or_none", "scalar"})


def row(value: Value | None) -> Value | None:
    """One row of a query or result (iterated or indexed), else nothing known."""
    return value.row() if isinstance(value, QueryValue) else None


def query_call(query: QueryValue, node: ast.Call) -> Value | None:
    """The value of `query.method(...)`: the same query, more options, or one of its rows."""
    method = node.func.attr
    if method == "options":
        return replace(query, eager=query.eager | eager_relationships(node.args))
    if method in QUERY_BUILDERS:
        return query
    return query.row() if method in ROW_TAKERS else None


def eager_relationships(options: list[ast.expr]) -> frozenset[str]:
    """Relationships that loader options load up front; raiseload makes every other one loud."""
    names = set()
    for option in options:
        for call in (node for node in all_nodes(option) if isinstance(node, ast.Call)):
            strategy = last_name(call.func)
            if strategy in LOUD_OPTIONS:
                return ALL_RELATIONSHIPS
            if strategy in EAGER_OPTIONS and call.args:
                first = call.args[0]
                if isinstance(first, ast.Attribute):
                    names.add(first.attr)
                elif isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return frozenset(names)
