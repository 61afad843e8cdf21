"""Names across modules: what a name in a scanned file refers to, following imports.

Scanned files are analysed. Modules they import from the same source tree (found beside
the scanned packages) are read on demand for their declarations only: models, session
factories, dependency aliases. Names from installed libraries stay external references
such as `asyncio.create_task`, which is all the checks need to know about them.
"""

import ast
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from background_task_audit.sources import SourceModule, read_file
from background_task_audit.syntax import module_level_statements

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class FunctionRef:
    module: SourceModule
    node: FunctionNode
    owner: ast.ClassDef | None = None

    @property
    def qualname(self) -> str:
        return f"{self.owner.name}.{self.node.name}" if self.owner else self.node.name

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    def parameter_names(self) -> list[str]:
        arguments = self.node.args
        return [argument.arg for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]

    def positional_parameters(self, *, bound: bool) -> list[str]:
        """Parameters filled by position; without `self` when called on an instance."""
        names = [argument.arg for argument in [*self.node.args.posonlyargs, *self.node.args.args]]
        return names[1:] if bound and self.owner is not None and names else names

    def annotations(self) -> dict[str, ast.expr | None]:
        arguments = self.node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        return {argument.arg: argument.annotation for argument in every}

    def defaults(self) -> dict[str, ast.expr]:
        arguments = self.node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        with_defaults = [a.arg for a in positional[len(positional) - len(arguments.defaults) :]]
        paired = dict(zip(with_defaults, arguments.defaults, strict=True))
        paired.update(
            {a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is not None}
        )
        return paired


@dataclass(frozen=True)
class ClassRef:
    module: SourceModule
    node: ast.ClassDef


@dataclass(frozen=True)
class ModuleRef:
    module: SourceModule


@dataclass(frozen=True)
class AssignmentRef:
    """A module-level `name = value`."""

    module: SourceModule
    name: str
    value: ast.expr


@dataclass(frozen=True)
class ExternalRef:
    """A name from outside the source tree, by its dotted import path."""

    qualified_name: str

    def is_one_of(self, names: Iterable[str]) -> bool:
        """Match by full dotted name or by its last part (`AsyncSession` matches any module's)."""
        last = self.qualified_name.rpartition(".")[2]
        return any(name == self.qualified_name or name == last for name in names)


Symbol = FunctionRef | ClassRef | ModuleRef | AssignmentRef | ExternalRef


@dataclass
class _SymbolTable:
    definitions: dict[str, Symbol] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # The modules of `from m import *`, in order: names found nowhere else are looked for there.
    star_imports: list[str] = field(default_factory=list)
    # A literal `__all__`: the names a star import of this module brings (None: every public name).
    exported: frozenset[str] | None = None

    def exports(self, name: str) -> bool:
        """Whether `from this_module import *` binds `name`."""
        return name in self.exported if self.exported is not None else not name.startswith("_")


def functions_in(module: SourceModule) -> Iterator[FunctionRef]:
    """Every function and method of `module`, nested ones included, with its class."""

    def visit(statements: list[ast.stmt], owner: ast.ClassDef | None) -> Iterator[FunctionRef]:
        for statement in statements:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                yield FunctionRef(module=module, node=statement, owner=owner)
                yield from visit(statement.body, None)
            elif isinstance(statement, ast.ClassDef):
                yield from visit(statement.body, statement)
            else:
                for block in _statement_blocks(statement):
                    yield from visit(block, owner)

    yield from visit(module.tree.body, None)


def _statement_blocks(statement: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists inside a compound statement (definitions only appear there)."""
    for name in ("body", "orelse", "finalbody"):
        block = getattr(statement, name, None)
        if isinstance(block, list):
            yield block
    for part in [*getattr(statement, "handlers", []), *getattr(statement, "cases", [])]:
        yield part.body


class Project:
    """The scanned modules and the declarations they can reach by import.

    `analysed` are the scanned modules read in full (the ones that mention what the audit
    looks for); the other scanned modules, like the rest of the source tree, are parsed
    only when a name is looked up in them.
    """

    def __init__(self, modules: list[SourceModule], *, base: Path, analysed: list[SourceModule] | None = None) -> None:
        self.modules = modules
        self.analysed = modules if analysed is None else analysed
        self._base = base
        self._by_name = {module.name: module for module in reversed(modules)}
        self._scanned = {id(module) for module in modules}
        self._roots = list(dict.fromkeys(module.import_root for module in modules))
        self._context: dict[str, SourceModule | None] = {}
        self._tables: dict[int, _SymbolTable] = {}
        self._functions: dict[int, list[FunctionRef]] = {}
        self._methods: dict[str, list[FunctionRef]] | None = None
        self._resolved: dict[tuple[int, str], Symbol | None] = {}
        self._root_entries: dict[Path, set[str]] = {}

    def is_scanned(self, module: SourceModule) -> bool:
        return id(module) in self._scanned

    def module(self, name: str) -> SourceModule | None:
        """A scanned module, or one importable beside the scanned packages (read lazily)."""
        if name in self._by_name:
            return self._by_name[name]
        if name not in self._context:
            self._context[name] = self._load_context_module(name)
        return self._context[name]

    def _load_context_module(self, name: str) -> SourceModule | None:
        relative = Path(*name.split("."))
        top = name.partition(".")[0]
        for root in (root for root in self._roots if top in self._entries(root)):
            for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
                if candidate.is_file():
                    read = read_file(candidate, base=self._base)
                    return read if isinstance(read, SourceModule) else None
        return None

    def _entries(self, root: Path) -> set[str]:
        """The importable names directly under `root` (packages and modules), read once."""
        if root not in self._root_entries:
            try:
                names = {entry.name.removesuffix(".py") for entry in os.scandir(root)}
            except OSError:
                names = set()
            self._root_entries[root] = names
        return self._root_entries[root]

    def resolve(self, expr: ast.expr, *, module: SourceModule) -> Symbol | None:
        if isinstance(expr, ast.Name):
            return self.resolve_name(expr.id, module=module)
        if not isinstance(expr, ast.Attribute):
            return None
        base = self.resolve(expr.value, module=module)
        if isinstance(base, ModuleRef):
            found = self.resolve_name(expr.attr, module=base.module)
            submodule = None if found else self.module(f"{base.module.name}.{expr.attr}")
            return found or (ModuleRef(submodule) if submodule else None)
        if isinstance(base, ExternalRef):
            return ExternalRef(f"{base.qualified_name}.{expr.attr}")
        if isinstance(base, ClassRef):
            return self.method(base, expr.attr)
        if isinstance(base, AssignmentRef) and isinstance(base.value, ast.Call):
            # A module-level instance (`service = Service()`): its class's method.
            made = self.resolve(base.value.func, module=base.module)
            if isinstance(made, ClassRef):
                return self.method(made, expr.attr)
        return None

    def resolve_name(self, name: str, *, module: SourceModule) -> Symbol | None:
        """What `name` means in `module`: its own definition, or what an import brings, followed."""
        key = (id(module), name)
        if key not in self._resolved:
            self._resolved[key] = self._resolve_name(name, module=module, seen=frozenset())
        return self._resolved[key]

    def _resolve_name(self, name: str, *, module: SourceModule, seen: frozenset[tuple[str, str]]) -> Symbol | None:
        key = (module.name, name)
        if key in seen:
            return None
        table = self._table(module)
        if name in table.definitions:
            return table.definitions[name]
        if name not in table.imports:
            return self._resolve_starred(name, table=table, seen=seen | {key})
        target, attribute = table.imports[name]
        target_module = self.module(target)
        if attribute is None:
            return ModuleRef(target_module) if target_module else ExternalRef(target)
        if target_module is not None:
            found = self._resolve_name(attribute, module=target_module, seen=seen | {key})
            if found is not None:
                return found
        submodule = self.module(f"{target}.{attribute}")
        if submodule is not None:
            return ModuleRef(submodule)
        return None if target_module is not None else ExternalRef(f"{target}.{attribute}")

    def _resolve_starred(self, name: str, *, table: _SymbolTable, seen: frozenset[tuple[str, str]]) -> Symbol | None:
        """`name` as a star import brings it: the last one that exports it wins, as in Python.

        Only modules of the source tree are followed; a library's star import is left alone,
        since what it exports cannot be known without importing it.
        """
        for source in reversed(table.star_imports):
            target_module = self.module(source)
            if target_module is None or not self._table(target_module).exports(name):
                continue
            found = self._resolve_name(name, module=target_module, seen=seen)
            if found is not None:
                return found
        return None

    def method(self, cls: ClassRef, name: str, *, depth: int = 0) -> FunctionRef | None:
        """Method `name` of `cls` or of a base class in the tree."""
        # The last definition wins, as in Python: `@overload` stubs come before the real one.
        for statement in reversed(cls.node.body):
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == name:
                return FunctionRef(module=cls.module, node=statement, owner=cls.node)
        for base in self.base_classes(cls) if depth < 5 else []:
            found = self.method(base, name, depth=depth + 1)
            if found:
                return found
        return None

    def base_classes(self, cls: ClassRef) -> list[ClassRef]:
        # `class Repo(RepositoryBase[Job])`: the generic's class.
        bases = (
            self.resolve(base.value if isinstance(base, ast.Subscript) else base, module=cls.module)
            for base in cls.node.bases
        )
        return [base for base in bases if isinstance(base, ClassRef) and base.node is not cls.node]

    def functions(self, module: SourceModule) -> list[FunctionRef]:
        """Every function and method of `module`, nested ones included."""
        if id(module) not in self._functions:
            self._functions[id(module)] = list(functions_in(module))
        return self._functions[id(module)]

    def methods_named(self, name: str) -> list[FunctionRef]:
        """Methods called `name` in any scanned class, for receivers whose type is unknown."""
        if self._methods is None:
            self._methods = defaultdict(list)
            for module in self.analysed:
                for function in self.functions(module):
                    if function.owner is not None:
                        self._methods[function.node.name].append(function)
        return self._methods.get(name, [])

    def _table(self, module: SourceModule) -> _SymbolTable:
        if id(module) not in self._tables:
            self._tables[id(module)] = _build_table(module)
        return self._tables[id(module)]


def _build_table(module: SourceModule) -> _SymbolTable:
    table = _SymbolTable()
    # Imports anywhere (functions import lazily too); module-level ones win below.
    if "import" in module.text:
        for node in _statements_anywhere(module.tree.body):
            if isinstance(node, ast.Import | ast.ImportFrom):
                table.imports.update(_import_bindings(node, module=module))
    for statement in module_level_statements(module.tree.body):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            table.imports.update(_import_bindings(statement, module=module))
            if isinstance(statement, ast.ImportFrom) and any(alias.name == "*" for alias in statement.names):
                table.star_imports.append(_absolute_module(statement, module=module))
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            table.definitions[statement.name] = FunctionRef(module=module, node=statement)
        elif isinstance(statement, ast.ClassDef):
            table.definitions[statement.name] = ClassRef(module=module, node=statement)
        elif type(statement).__name__ == "TypeAlias" and isinstance(getattr(statement, "name", None), ast.Name):
            # `type SessionDep = Annotated[...]` (Python 3.12).
            name = statement.name.id  # type: ignore[attr-defined]
            table.definitions[name] = AssignmentRef(module=module, name=name, value=statement.value)  # type: ignore[attr-defined]
        elif isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    table.definitions[target.id] = AssignmentRef(module=module, name=target.id, value=statement.value)
    table.exported = _literal_all(table.definitions.get("__all__"))
    return table


def _literal_all(symbol: Symbol | None) -> frozenset[str] | None:
    """The names of `__all__ = [...]` (or a tuple), when they are all written out."""
    if not isinstance(symbol, AssignmentRef) or not isinstance(symbol.value, ast.List | ast.Tuple):
        return None
    names = [element.value for element in symbol.value.elts if isinstance(element, ast.Constant)]
    if len(names) != len(symbol.value.elts) or not all(isinstance(name, str) for name in names):
        return None
    return frozenset(str(name) for name in names)


def _statements_anywhere(statements: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, in functions and classes too, without walking expressions."""
    for statement in statements:
        yield statement
        for block in _statement_blocks(statement):
            yield from _statements_anywhere(block)


def _import_bindings(node: ast.Import | ast.ImportFrom, *, module: SourceModule) -> dict[str, tuple[str, str | None]]:
    if isinstance(node, ast.Import):
        return {
            alias.asname or alias.name.partition(".")[0]: (
                alias.name if alias.asname else alias.name.partition(".")[0],
                None,
            )
            for alias in node.names
        }
    source = _absolute_module(node, module=module)
    return {alias.asname or alias.name: (source, alias.name) for alias in node.names if alias.name != "*"}


def _absolute_module(node: ast.ImportFrom, *, module: SourceModule) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.package.split(".") if module.package else []
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, *([node.module] if node.module else [])])
