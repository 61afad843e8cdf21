"""R8: engines belong to their event loop. Module checks over every scanned file:

an async engine or sessionmaker bound at import time, in a module that also starts new
event loops with `asyncio.run()` (F5, F6); and async engines that nothing disposes (F6).
"""

import ast
from collections.abc import Iterator

from background_task_audit.checks.verdicts import Verdict
from background_task_audit.kinds import SESSION_CLASSES, SESSIONMAKER_CLASSES
from background_task_audit.project import AssignmentRef, ExternalRef, FunctionRef, Project
from background_task_audit.rules import ENGINE_NOT_DISPOSED, MODULE_ENGINE_ON_NEW_LOOP
from background_task_audit.sessions import FOLLOW_DEPTH, SessionFactories
from background_task_audit.sources import SourceModule
from background_task_audit.summaries import Summaries
from background_task_audit.syntax import Walker, last_name

ASYNC_ENGINE_FACTORIES = frozenset({"create_async_engine"})
BORROWERS = SESSION_CLASSES | SESSIONMAKER_CLASSES
ASYNC_LOOP_BOUND = frozenset({"create_async_engine", "async_sessionmaker"})
LOOP_STARTERS = frozenset({"asyncio.run", "asyncio.new_event_loop", "asyncio.Runner"})
LOOP_STARTER_NAMES = frozenset({"run", "new_event_loop", "Runner", "run_until_complete"})


def judge_engines(
    project: Project, factories: SessionFactories, summaries: Summaries, walker: Walker
) -> Iterator[Verdict]:
    disposed = _disposed_names(project, walker)
    loops = _LoopBound(project, factories, summaries, walker)
    for module in project.analysed:
        yield from loops.judge(module)
        yield from _undisposed_module_engines(module, factories=factories, disposed=disposed)
        yield from _undisposed_local_engines(module, project=project, factories=factories, walker=walker)


def _disposed_names(project: Project, walker: Walker) -> set[str]:
    """Last names of everything `.dispose()` is called on: `engine`, `self.engine`..."""
    return {
        last_name(node.func.value) or ""
        for module in project.analysed
        if module.mentions(("dispose",))
        for node in walker.everything(module.tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "dispose"
    }


class _LoopBound:
    """`asyncio.run(coro())` where `coro` (or what it calls) uses a module-level async engine or sessionmaker."""

    def __init__(self, project: Project, factories: SessionFactories, summaries: Summaries, walker: Walker) -> None:
        self._project = project
        self._factories = factories
        self._summaries = summaries
        self._walker = walker
        self._uses: dict[ast.AST, str | None] = {}
        self._visiting: set[ast.AST] = set()

    def judge(self, module: SourceModule) -> Iterator[Verdict]:
        if not module.mentions(("asyncio", "run_until_complete")):
            return
        main_block = _main_block_nodes(module)
        run_by_main = _called_in_main_block(module)
        for function in self._project.functions(module):
            if function.node.name in run_by_main:
                continue  # the script's `main()`: one loop for the whole process
            for node in self._walker.body(function.node):
                if not isinstance(node, ast.Call) or id(node) in main_block:
                    continue
                if not starts_event_loop(node, module=module, project=self._project) or not node.args:
                    continue
                run = node.args[0]
                callee = self._summaries.callee(run, caller=function) if isinstance(run, ast.Call) else None
                used = self._uses_loop_bound(callee) if callee is not None else None
                if used is not None:
                    message = (
                        f"{ast.unparse(node.func)}() starts a new event loop; module-level `{used}` belongs to another"
                    )
                    yield Verdict(check=MODULE_ENGINE_ON_NEW_LOOP, message=message, module=module, node=node)

    def _uses_loop_bound(self, function: FunctionRef, depth: int = 0) -> str | None:
        """The module-level engine or sessionmaker `function` uses, directly or through what it calls."""
        if function.node in self._uses:
            return self._uses[function.node]
        if function.node in self._visiting:  # a cycle of calls: what it uses is found where it started
            return None
        self._visiting.add(function.node)
        found = None
        for node in self._walker.body(function.node):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                symbol = self._project.resolve_name(node.id, module=function.module)
                if isinstance(symbol, AssignmentRef) and self._is_loop_bound(symbol):
                    found = node.id
            elif isinstance(node, ast.Call) and depth < FOLLOW_DEPTH:
                callee = self._summaries.callee(node, caller=function)
                found = self._uses_loop_bound(callee, depth + 1) if callee is not None else None
            if found is not None:
                break
        self._visiting.discard(function.node)
        # A miss with calls left unfollowed (too deep) is no answer for a caller that reaches it sooner.
        if found is not None or depth == 0:
            self._uses[function.node] = found
        return found

    def _is_loop_bound(self, symbol: AssignmentRef) -> bool:
        return isinstance(symbol.value, ast.Call) and self._factories.is_external(
            symbol.value.func, ASYNC_LOOP_BOUND, module=symbol.module
        )


def starts_event_loop(call: ast.Call, *, module: SourceModule, project: Project) -> bool:
    """`asyncio.run(...)`, `asyncio.new_event_loop()`, `asyncio.Runner()` or `loop.run_until_complete(...)`."""
    if last_name(call.func) not in LOOP_STARTER_NAMES:
        return False
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef) and symbol.qualified_name in LOOP_STARTERS:
        return True
    return isinstance(call.func, ast.Attribute) and call.func.attr == "run_until_complete"


def _called_in_main_block(module: SourceModule) -> set[str]:
    """Names of the module's functions called under `if __name__ == "__main__":`."""
    return {
        node.func.id
        for statement in module.tree.body
        if isinstance(statement, ast.If) and "__main__" in ast.unparse(statement.test)
        for node in ast.walk(statement)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def _main_block_nodes(module: SourceModule) -> set[int]:
    """Nodes under `if __name__ == "__main__":`, where one loop runs for the whole process."""
    return {
        id(node)
        for statement in module.tree.body
        if isinstance(statement, ast.If) and "__main__" in ast.unparse(statement.test)
        for node in ast.walk(statement)
    }


def _undisposed_module_engines(
    module: SourceModule, *, factories: SessionFactories, disposed: set[str]
) -> Iterator[Verdict]:
    for name, assignment in factories.module_engines(module).items():
        value = assignment.value
        if (
            isinstance(value, ast.Call)
            and factories.is_external(value.func, ASYNC_ENGINE_FACTORIES, module=module)
            and name not in disposed
        ):
            message = f"module-level engine `{name}` is never disposed"
            yield Verdict(check=ENGINE_NOT_DISPOSED, message=message, module=module, node=assignment.value)


def _undisposed_local_engines(
    module: SourceModule, *, project: Project, factories: SessionFactories, walker: Walker
) -> Iterator[Verdict]:
    if not module.mentions(ASYNC_ENGINE_FACTORIES):
        return
    for function in project.functions(module):
        nodes = walker.body(function.node)
        for node in nodes:
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            if not factories.is_external(node.value.func, ASYNC_ENGINE_FACTORIES, module=module):
                continue
            names = {target.id for target in node.targets if isinstance(target, ast.Name)}
            if names and not any(_hands_over_or_disposes(other, names) for other in nodes):
                message = f"engine `{sorted(names)[0]}` created in `{function.qualname}` is never disposed"
                yield Verdict(check=ENGINE_NOT_DISPOSED, message=message, module=module, node=node.value)


def _hands_over_or_disposes(node: ast.AST, names: set[str]) -> bool:
    """`engine.dispose()`, or the engine handed to someone else to dispose: returned, yielded,
    stored on an object, passed to a call, or declared global."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr == "dispose":
            return isinstance(node.func.value, ast.Name) and node.func.value.id in names
        if last_name(node.func) in BORROWERS:
            return False  # a session or sessionmaker uses the engine; it does not dispose of it
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        return any(_mentions(argument, names) for argument in arguments)
    if isinstance(node, ast.Return | ast.Yield) and node.value is not None:
        return _mentions(node.value, names)
    if isinstance(node, ast.Assign) and _mentions(node.value, names):
        return any(not isinstance(target, ast.Name) for target in node.targets)
    return isinstance(node, ast.Global) and bool(names & set(node.names))


def _mentions(expr: ast.expr, names: set[str]) -> bool:
    """Whether `expr` carries the engine itself, not only a session or sessionmaker made from it."""
    if isinstance(expr, ast.Name):
        return expr.id in names
    if isinstance(expr, ast.Call) and last_name(expr.func) in BORROWERS:
        return False
    return any(_mentions(child, names) for child in ast.iter_child_nodes(expr) if isinstance(child, ast.expr))
