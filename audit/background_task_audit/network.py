"""Which awaited calls are network I/O or sleeps: the waits no session may be held across (R2)."""

import ast

from background_task_audit.project import ExternalRef, Project
from background_task_audit.sources import SourceModule

HTTP_LIBRARIES = frozenset({"httpx", "aiohttp"})
HTTP_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream", "fetch"}
)
SLEEPS = frozenset({"asyncio.sleep", "anyio.sleep", "trio.sleep"})
HTTP_CLIENT_CLASSES = frozenset({"httpx.AsyncClient", "aiohttp.ClientSession"})
# Wrappers whose first argument is the awaitable that does the waiting.
AWAIT_WRAPPERS = frozenset({"asyncio.wait_for", "asyncio.shield", "anyio.fail_after"})


def awaited_call(call: ast.Call, *, module: SourceModule, project: Project) -> ast.Call:
    """The call that really waits: `client.get()` in `await asyncio.wait_for(client.get(), 5)`."""
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef) and symbol.qualified_name in AWAIT_WRAPPERS and call.args:
        inner = call.args[0]
        return awaited_call(inner, module=module, project=project) if isinstance(inner, ast.Call) else call
    return call


def is_http_client_constructor(call: ast.Call, *, module: SourceModule, project: Project) -> bool:
    symbol = project.resolve(call.func, module=module)
    return isinstance(symbol, ExternalRef) and symbol.qualified_name in HTTP_CLIENT_CLASSES


def direct_network_wait(
    call: ast.Call, *, module: SourceModule, project: Project, http_clients: set[str], sessions: set[str]
) -> str | None:
    """A description of the network I/O or sleep `call` performs itself, or None.

    `http_clients` and `sessions` are receivers (as source text) known to be one or the
    other; an unknown receiver counts as an HTTP client when its name says so.
    """
    symbol = project.resolve(call.func, module=module)
    if isinstance(symbol, ExternalRef):
        if symbol.qualified_name in SLEEPS:
            return f"{symbol.qualified_name}()"
        if symbol.qualified_name.partition(".")[0] in HTTP_LIBRARIES:
            return f"HTTP {symbol.qualified_name}()"
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in HTTP_METHODS):
        return None
    receiver = ast.unparse(call.func.value)
    if receiver in sessions:
        return None
    if receiver in http_clients or _named_like_http_client(call.func.value):
        return f"HTTP {receiver}.{call.func.attr}()"
    return None


def _named_like_http_client(receiver: ast.expr) -> bool:
    spelled = ast.unparse(receiver).lower()
    return "client" in spelled or "http" in spelled
