"""What the audit knows about ORM models: mapped attributes, lazy relationships, JSON and
`onupdate` columns, read from class bodies (and their bases) in the source tree.
"""

import ast
from dataclasses import dataclass

from background_task_audit.project import ClassRef, Project
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import last_name

COLUMN_FACTORIES = frozenset({"mapped_column", "Column", "column_property", "deferred", "composite"})
RELATIONSHIP_FACTORIES = frozenset({"relationship", "Relationship", "relation"})
# Relationship strategies whose attribute access never emits an implicit lazy load.
NOT_LAZY_STRATEGIES = frozenset(
    {"selectin", "joined", "subquery", "immediate", "raise", "raise_on_sql", "noload", "dynamic", "write_only"}
)
JSON_TYPES = frozenset({"JSON", "JSONB"})


@dataclass(frozen=True)
class ModelInfo:
    name: str
    attributes: frozenset[str]
    lazy_relationships: frozenset[str]
    json_columns: frozenset[str]
    sql_onupdate_columns: frozenset[str]
    # Defined where the audit cannot read it: its attributes and relationships are unknown.
    opaque: bool = False


@dataclass(frozen=True)
class _Attribute:
    name: str
    annotation: ast.expr | None
    value: ast.expr | None


class ModelCatalog:
    """Model facts per class, computed once."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._cache: dict[ast.ClassDef, ModelInfo | None] = {}

    def model_for(self, expr: ast.expr | None, *, module: SourceModule) -> ModelInfo | None:
        """The model an annotation or expression names: `Job`, `"Job"`, `Job | None`, `Optional[Job]`."""
        if expr is None:
            return None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            try:
                expr = ast.parse(expr.value, mode="eval").body
            except (SyntaxError, ValueError):
                return None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return self.model_for(expr.left, module=module) or self.model_for(expr.right, module=module)
        if isinstance(expr, ast.Subscript) and last_name(expr.value) == "Optional":
            return self.model_for(expr.slice, module=module)
        symbol = self._project.resolve(expr, module=module)
        return self.model(symbol) if isinstance(symbol, ClassRef) else None

    def model(self, cls: ClassRef) -> ModelInfo | None:
        if cls.node not in self._cache:
            self._cache[cls.node] = None  # guards against cycles through bases
            self._cache[cls.node] = self._build(cls)
        return self._cache[cls.node]

    def _build(self, cls: ClassRef) -> ModelInfo | None:
        bases = [self.model(base) for base in self._project.base_classes(cls)]
        inherited = [base for base in bases if base is not None]
        attributes = _declared_attributes(cls.node)
        sqlmodel_table = _is_sqlmodel_table(cls.node)
        if not inherited and not sqlmodel_table and not _declares_table(cls.node, attributes):
            return None
        type_map = self._type_annotation_map(cls)
        eager_defaults = _has_eager_defaults(cls.node)
        own = ModelInfo(
            name=cls.node.name,
            attributes=frozenset(a.name for a in attributes if _is_mapped(a) or (sqlmodel_table and a.annotation)),
            lazy_relationships=frozenset(a.name for a in attributes if _is_lazy_relationship(a)),
            json_columns=frozenset(a.name for a in attributes if _is_plain_json(a, type_map=type_map)),
            # eager_defaults fetches the new value with RETURNING, so nothing is left expired.
            sql_onupdate_columns=frozenset(a.name for a in attributes if _has_sql_onupdate(a) and not eager_defaults),
        )
        return _merge(own, inherited)

    def _type_annotation_map(self, cls: ClassRef, depth: int = 0) -> dict[str, ast.expr]:
        """`type_annotation_map` entries of the class and its bases, keyed by the annotation's source."""
        found: dict[str, ast.expr] = {}
        for base in self._project.base_classes(cls) if depth < 5 else []:
            found.update(self._type_annotation_map(base, depth + 1))
        for statement in cls.node.body:
            value = _assigned_value(statement)
            if _assigned_name(statement) == "type_annotation_map" and isinstance(value, ast.Dict):
                found.update(
                    (ast.unparse(key), item) for key, item in zip(value.keys, value.values, strict=True) if key
                )
        return found


def _merge(own: ModelInfo, inherited: list[ModelInfo]) -> ModelInfo:
    def union(field: str) -> frozenset[str]:
        return frozenset().union(getattr(own, field), *(getattr(base, field) for base in inherited))

    return ModelInfo(
        name=own.name,
        attributes=union("attributes"),
        lazy_relationships=union("lazy_relationships"),
        json_columns=union("json_columns"),
        sql_onupdate_columns=union("sql_onupdate_columns"),
    )


def _assigned_name(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id
    return None


def _assigned_value(statement: ast.stmt) -> ast.expr | None:
    return statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None


def _declared_attributes(node: ast.ClassDef) -> list[_Attribute]:
    attributes = []
    for statement in node.body:
        name = _assigned_name(statement)
        if name is None or name.startswith("__"):
            continue
        annotation = statement.annotation if isinstance(statement, ast.AnnAssign) else None
        attributes.append(_Attribute(name=name, annotation=annotation, value=_assigned_value(statement)))
    return attributes


def _is_sqlmodel_table(node: ast.ClassDef) -> bool:
    """`class Hero(SQLModel, table=True)`: every annotated attribute is a column."""
    return any(
        keyword.arg == "table" and isinstance(keyword.value, ast.Constant) and keyword.value.value is True
        for keyword in node.keywords
    )


def _declares_table(node: ast.ClassDef, attributes: list[_Attribute]) -> bool:
    declares = any(_assigned_name(statement) in {"__tablename__", "__table__"} for statement in node.body)
    return declares or any(_factory(a) is not None for a in attributes)


def _factory(attribute: _Attribute) -> str | None:
    if isinstance(attribute.value, ast.Call):
        name = last_name(attribute.value.func)
        if name in COLUMN_FACTORIES or name in RELATIONSHIP_FACTORIES:
            return name
    return None


def _mapped_annotation(attribute: _Attribute) -> ast.expr | None:
    """`T` of `Mapped[T]`, or None."""
    annotation = attribute.annotation
    if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Mapped":
        return annotation.slice
    return None


def _is_mapped(attribute: _Attribute) -> bool:
    return _factory(attribute) is not None or _mapped_annotation(attribute) is not None


def _is_lazy_relationship(attribute: _Attribute) -> bool:
    """A relationship loaded on attribute access: `lazy="select"` (the default), said or implied.

    The strategy is read from `lazy=`, from SQLModel's `sa_relationship_kwargs={"lazy": ...}`
    and from `sa_relationship=relationship(lazy=...)`. One the audit cannot read (a name, a
    call) is taken as not lazy: the audit reports what it can show.
    """
    if not isinstance(attribute.value, ast.Call) or _factory(attribute) not in RELATIONSHIP_FACTORIES:
        return False
    if not _is_collection(attribute):
        # A many-to-one resolves from the session's identity map when its row is loaded there:
        # whether it needs I/O depends on the session, not on the code the audit reads.
        return False
    call = attribute.value
    inner = _keyword(call, "sa_relationship")
    if isinstance(inner, ast.Call):
        call = inner
    lazy = _keyword(call, "lazy")
    options = _keyword(call, "sa_relationship_kwargs")
    if lazy is None and options is not None:
        if not isinstance(options, ast.Dict):
            return False
        lazy = next(
            (value for key, value in zip(options.keys, options.values, strict=True) if _is_constant(key, "lazy")),
            None,
        )
    if lazy is None:
        return True
    return isinstance(lazy, ast.Constant) and lazy.value not in NOT_LAZY_STRATEGIES


COLLECTIONS = frozenset({"list", "List", "set", "Set", "Sequence", "MutableSequence", "Collection", "dict", "Dict"})


def _is_collection(attribute: _Attribute) -> bool:
    """A relationship to many rows: `Mapped[list[X]]`, or `uselist=True`; unannotated, unless `uselist=False`."""
    assert isinstance(attribute.value, ast.Call)
    uselist = _keyword(attribute.value, "uselist")
    if isinstance(uselist, ast.Constant) and isinstance(uselist.value, bool):
        return uselist.value
    declared = _mapped_annotation(attribute) or attribute.annotation
    if declared is None:
        return True
    if isinstance(declared, ast.Constant) and isinstance(declared.value, str):
        return any(declared.value.startswith(f"{name}[") for name in COLLECTIONS)
    return isinstance(declared, ast.Subscript) and last_name(declared.value) in COLLECTIONS


def _is_constant(expr: ast.expr | None, value: str) -> bool:
    return isinstance(expr, ast.Constant) and expr.value == value


def _is_plain_json(attribute: _Attribute, *, type_map: dict[str, ast.expr]) -> bool:
    """A JSON column whose in-place changes SQLAlchemy does not track (no Mutable wrapper)."""
    if _factory(attribute) not in COLUMN_FACTORIES and _mapped_annotation(attribute) is None:
        return False
    declared = _declared_type(attribute)
    if declared is None:
        mapped = _mapped_annotation(attribute)
        declared = type_map.get(ast.unparse(mapped)) if mapped is not None else None
    return declared is not None and _mentions(declared, JSON_TYPES) and not _is_mutable(declared)


def _declared_type(attribute: _Attribute) -> ast.expr | None:
    """The type given to mapped_column()/Column(), positionally or as type_=."""
    if not isinstance(attribute.value, ast.Call) or _factory(attribute) not in COLUMN_FACTORIES:
        return None
    call = attribute.value
    for argument in [*call.args, _keyword(call, "type_")]:
        if argument is not None and _mentions(argument, JSON_TYPES):
            return argument
    return None


def _mentions(expr: ast.expr, names: frozenset[str]) -> bool:
    return any(
        (isinstance(node, ast.Name) and node.id in names) or (isinstance(node, ast.Attribute) and node.attr in names)
        for node in ast.walk(expr)
    )


def _is_mutable(expr: ast.expr) -> bool:
    return any(
        (isinstance(node, ast.Attribute) and node.attr == "as_mutable")
        or (isinstance(node, ast.Name) and node.id.startswith("Mutable"))
        for node in ast.walk(expr)
    )


def _has_sql_onupdate(attribute: _Attribute) -> bool:
    """`onupdate=` with a SQL expression, which expires the attribute at flush (F3)."""
    if _factory(attribute) not in COLUMN_FACTORIES or not isinstance(attribute.value, ast.Call):
        return False
    onupdate = _keyword(attribute.value, "onupdate")
    # A plain function or lambda runs in Python and its value is kept on the object.
    return onupdate is not None and not isinstance(onupdate, ast.Name | ast.Lambda | ast.Constant)


def _has_eager_defaults(node: ast.ClassDef) -> bool:
    for statement in node.body:
        mapper_args = _assigned_value(statement)
        if _assigned_name(statement) == "__mapper_args__" and isinstance(mapper_args, ast.Dict):
            for key, value in zip(mapper_args.keys, mapper_args.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "eager_defaults":
                    return isinstance(value, ast.Constant) and value.value is True
    return False


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)
