"""R8: engines belong to their event loop. Module checks over every scanned file:

an async engine or sessionmaker bound at import time, in a module that also starts new
event loops with `asyncio.run()` (F5, F6); and async engines that nothing disposes (F6).
"""

import ast
from collections.abc import Iterator

from background_task_audit.checks.verdicts import Verdict
from background_task_audit.project import AssignmentRef, ExternalRef, Project
from background_task_audit.rules import ENGINE_NOT_DISPOSED, MODULE_ENGINE_ON_NEW_LOOP
from background_task_audit.sessions import SessionFactories
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import all_nodes, body_nodes, last_name

ASYNC_ENGINE_FACTORIES = ("create_async_engine",)
ASYNC_LOOP_BOUND = ("create_async_engine", "async_sessionmaker")
LOOP_STARTERS = frozenset({"asyncio.run", "asyncio.new_event_loop", "asyncio.Runner"})
LOOP_STARTER_NAMES = frozenset({"run", "new_event_loop", "Runner", "run_until_complete"})


def judge_engines(project: Project, factories: SessionFactories) -> Iterator[Verdict]:
    disposed = _disposed_names(project)
    for module in project.modules:
        yield from _module_engines_on_new_loops(module, project=project, factories=factories)
        yield from _undisposed_module_engines(module, factories=factories, disposed=disposed)
        yield from _undisposed_local_engines(module, project=project, factories=factories)


def _disposed_names(project: Project) -> set[str]:
    """Last names of everything `.dispose()` is called on: `engine`, `self.engine`..."""
    return {
        last_name(node.func.value) or ""
        for module in project.modules
        if module.mentions(("dispose",))
        for node in all_nodes(module.tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "dispose"
    }


def _module_engines_on_new_loops(
    module: SourceModule, *, project: Project, factories: SessionFactories
) -> Iterator[Verdict]:
    if not module.mentions(("asyncio", "run_until_complete")):
        return
    main_block = _main_block_nodes(module)
    loop_starts = [
        node
        for node in all_nodes(module.tree)
        if isinstance(node, ast.Call)
        and id(node) not in main_block
        and starts_event_loop(node, module=module, project=project)
    ]
    if not loop_starts:
        return
    names = {node.id for node in all_nodes(module.tree) if isinstance(node, ast.Name)}
    used = sorted(
        name for name in names if _is_loop_bound_global(name, module=module, project=project, factories=factories)
    )
    for node in loop_starts if used else []:
        message = f"{ast.unparse(node.func)}() starts a new event loop; module-level `{used[0]}` belongs to another"
        yield Verdict(check=MODULE_ENGINE_ON_NEW_LOOP, message=message, module=module, node=node)


def _is_loop_bound_global(name: str, *, module: SourceModule, project: Project, factories: SessionFactories) -> bool:
    symbol = project.resolve_name(name, module=module)
    return (
        isinstance(symbol, AssignmentRef)
        and isinstance(symbol.value, ast.Call)
        and factories.is_named(symbol.value.func, ASYNC_LOOP_BOUND, module=symbol.module)
    )


def starts_event_loop(call: ast.Call, *, module: SourceModule, project: Project) -> bool:
    """`asyncio.run(...)`, `asyncio.new_event_loop()`, `asyncio.Runner()` or `loop.run_until_complete(...)`."""
    if last_name(call.func) not in LOOP_STARTER_NAMES:
        return False
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef) and symbol.qualified_name in LOOP_STARTERS:
        return True
    return isinstance(call.func, ast.Attribute) and call.func.attr == "run_until_complete"


def _main_block_nodes(module: SourceModule) -> set[int]:
    """Nodes under `if __name__ == "__main__":`, where one loop runs for the whole process."""
    return {
        id(node)
        for statement in module.tree.body
        if isinstance(statement, ast.If) and "__main__" in ast.unparse(statement.test)
        for node in all_nodes(statement)
    }


def _undisposed_module_engines(
    module: SourceModule, *, factories: SessionFactories, disposed: set[str]
) -> Iterator[Verdict]:
    for name, assignment in factories.module_engines(module).items():
        if factories.is_named(assignment.value.func, ASYNC_ENGINE_FACTORIES, module=module) and name not in disposed:
            message = f"module-level engine `{name}` is never disposed"
            yield Verdict(check=ENGINE_NOT_DISPOSED, message=message, module=module, node=assignment.value)


def _undisposed_local_engines(
    module: SourceModule, *, project: Project, factories: SessionFactories
) -> Iterator[Verdict]:
    if not module.mentions(ASYNC_ENGINE_FACTORIES):
        return
    for function in project.functions(module):
        nodes = list(body_nodes(function.node))
        for node in nodes:
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            if not factories.is_named(node.value.func, ASYNC_ENGINE_FACTORIES, module=module):
                continue
            names = {target.id for target in node.targets if isinstance(target, ast.Name)}
            if names and not any(_hands_over_or_disposes(other, names) for other in nodes):
                message = f"engine `{sorted(names)[0]}` created in `{function.qualname}` is never disposed"
                yield Verdict(check=ENGINE_NOT_DISPOSED, message=message, module=module, node=node.value)


def _hands_over_or_disposes(node: ast.AST, names: set[str]) -> bool:
    """`engine.dispose()`, or the engine returned, yielded or stored for someone else to dispose."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "dispose":
        return isinstance(node.func.value, ast.Name) and node.func.value.id in names
    if isinstance(node, ast.Return | ast.Yield) and isinstance(node.value, ast.Name):
        return node.value.id in names
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in names:
        return any(not isinstance(target, ast.Name) for target in node.targets)
    return isinstance(node, ast.Global) and bool(names & set(node.names))
