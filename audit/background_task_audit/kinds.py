"""What a value is, read from types: annotations, classes, and what functions are declared to return.

A session is known by its type, never by its name: an annotation or class from SQLAlchemy
or SQLModel (`AsyncSession`, `Session`, their connections, `async_scoped_session`), a
subclass of one, an alias of one (`SessionDep = Annotated[AsyncSession, Depends(...)]`),
or a type named in the configuration. The same reading tells sessionmakers, engines,
HTTP and other network clients, FastAPI's `BackgroundTasks` and ORM models apart.
"""

import ast
from enum import StrEnum

from background_task_audit.orm import ModelCatalog, ModelInfo
from background_task_audit.project import AssignmentRef, ClassRef, ExternalRef, Project, Symbol
from background_task_audit.sources import SourceModule
from background_task_audit.syntax import last_name

ORM_LIBRARIES = frozenset({"sqlalchemy", "sqlmodel"})
SESSION_CLASSES = frozenset(
    {"AsyncSession", "Session", "AsyncConnection", "Connection", "async_scoped_session", "scoped_session"}
)
SESSIONMAKER_CLASSES = frozenset({"async_sessionmaker", "sessionmaker"})
ENGINE_CLASSES = frozenset({"AsyncEngine", "Engine"})
ENGINE_FACTORIES = frozenset({"create_async_engine", "create_engine"})
HTTP_CLIENT_CLASSES = frozenset({"httpx.AsyncClient", "aiohttp.ClientSession"})
BLOCKING_HTTP_CLIENT_CLASSES = frozenset({"httpx.Client", "requests.Session", "urllib3.PoolManager"})
HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"})
# Module-level functions that go over the network themselves.
NETWORK_FUNCTIONS = frozenset(
    {f"{library}.{verb}" for library in ("httpx", "requests") for verb in HTTP_VERBS}
    | {"urllib.request.urlopen", "urllib3.request", "aiohttp.request", "smtplib.SMTP", "smtplib.SMTP_SSL"}
    | {"aiosmtplib.send"}
)
# API SDKs: their clients' calls, and their awaited functions (`litellm.acompletion`), go to a slow service.
# Caches and queues (Redis and the like) answer in well under a millisecond: not listed.
SDK_LIBRARIES = frozenset(
    {"openai", "anthropic", "litellm", "cohere", "mistralai", "groq", "boto3", "aioboto3", "aiobotocore", "botocore"}
    | {"stripe", "aiosmtplib", "sendgrid", "twilio", "slack_sdk", "google.genai", "google.cloud", "googleapiclient"}
)
NETWORK_LIBRARIES = SDK_LIBRARIES | {"httpx", "aiohttp", "requests", "urllib3"}
BACKGROUND_TASKS_CLASSES = frozenset({"fastapi.BackgroundTasks", "starlette.background.BackgroundTasks"})
# Wrappers whose first type argument is the type that matters.
TRANSPARENT = frozenset({"Optional", "Annotated", "Union", "Final", "ClassVar", "Required", "NotRequired"})
# Return types whose (first) argument is what a call hands out, awaited, iterated or entered.
HANDED_OUT = frozenset(
    {"AsyncIterator", "AsyncGenerator", "Iterator", "Generator", "AsyncIterable", "Iterable", "Awaitable"}
    | {"AbstractAsyncContextManager", "AsyncContextManager", "AbstractContextManager", "ContextManager"}
)
ALIAS_DEPTH = 4


class Kind(StrEnum):
    session = "session"
    sessionmaker = "sessionmaker"
    engine = "engine"
    http_client = "HTTP client"
    blocking_http_client = "blocking HTTP client"
    network_client = "network client"
    background_tasks = "BackgroundTasks"


TypeInfo = Kind | ModelInfo


class Types:
    """Reads types for one audit, with the configured extra session types and factories."""

    def __init__(
        self,
        project: Project,
        models: ModelCatalog,
        *,
        session_types: frozenset[str] = frozenset(),
        session_factories: frozenset[str] = frozenset(),
    ) -> None:
        self._project = project
        self._models = models
        self._session_types = session_types
        self._session_factories = session_factories
        self._class_kinds: dict[ast.ClassDef, Kind | None] = {}

    def of_annotation(self, expr: ast.expr | None, *, module: SourceModule, depth: int = 0) -> TypeInfo | None:
        """What a value annotated `expr` is: `AsyncSession`, `"Job"`, `Job | None`, `SessionDep`..."""
        if expr is None or depth > ALIAS_DEPTH:
            return None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            parsed = _parse_annotation(expr.value)
            return self.of_annotation(parsed, module=module, depth=depth + 1) if parsed is not None else None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return self.of_annotation(expr.left, module=module, depth=depth) or self.of_annotation(
                expr.right, module=module, depth=depth
            )
        if isinstance(expr, ast.Subscript):
            base = last_name(expr.value)
            arguments = type_arguments(expr)
            if base in TRANSPARENT:
                candidates = arguments[:1] if base == "Annotated" else arguments
                found = (self.of_annotation(argument, module=module, depth=depth) for argument in candidates)
                return next((info for info in found if info is not None), None)
            if base == "Mapped":
                return None
            return self.of_annotation(expr.value, module=module, depth=depth)
        if isinstance(expr, ast.Call) and last_name(expr.func) == "NewType" and len(expr.args) == 2:
            # `AsyncSession = NewType("AsyncSession", _AsyncSession)`: the type it stands for.
            return self.of_annotation(expr.args[1], module=module, depth=depth + 1)
        if not isinstance(expr, ast.Name | ast.Attribute):
            return None
        return self.of_symbol(self._project.resolve(expr, module=module), depth=depth)

    def of_symbol(self, symbol: Symbol | None, *, depth: int = 0) -> TypeInfo | None:
        if isinstance(symbol, ExternalRef):
            return self.external_kind(symbol.qualified_name)
        if isinstance(symbol, ClassRef):
            return self._models.model(symbol) or self.class_kind(symbol)
        if isinstance(symbol, AssignmentRef):
            # A type alias: `SessionDep = Annotated[AsyncSession, Depends(get_session)]`.
            return self.of_annotation(symbol.value, module=symbol.module, depth=depth + 1)
        return None

    def external_kind(self, qualified_name: str) -> Kind | None:
        """The kind of a class from outside the source tree, by its import path."""
        root = qualified_name.partition(".")[0]
        last = qualified_name.rpartition(".")[2]
        if self._configured(qualified_name, self._session_types):
            return Kind.session
        if root in ORM_LIBRARIES:
            if last in SESSION_CLASSES:
                return Kind.session
            if last in SESSIONMAKER_CLASSES:
                return Kind.sessionmaker
            if last in ENGINE_CLASSES:
                return Kind.engine
        if any(qualified_name == name or qualified_name.endswith(f".{name}") for name in BACKGROUND_TASKS_CLASSES):
            return Kind.background_tasks
        if any(_same_class(qualified_name, name) for name in HTTP_CLIENT_CLASSES):
            return Kind.http_client
        if any(_same_class(qualified_name, name) for name in BLOCKING_HTTP_CLIENT_CLASSES):
            return Kind.blocking_http_client
        if is_network_library(qualified_name) and last[:1].isupper():
            return Kind.network_client
        return None

    def class_kind(self, cls: ClassRef, depth: int = 0) -> Kind | None:
        """The kind of a class in the source tree: configured, or a subclass of a known kind."""
        if cls.node in self._class_kinds:
            return self._class_kinds[cls.node]
        self._class_kinds[cls.node] = None  # guards against cycles through bases
        found: Kind | None = None
        if self._configured(f"{cls.module.name}.{cls.node.name}", self._session_types):
            found = Kind.session
        for base in cls.node.bases if found is None and depth < ALIAS_DEPTH else []:
            symbol = self._project.resolve(base.value if isinstance(base, ast.Subscript) else base, module=cls.module)
            if isinstance(symbol, ExternalRef):
                found = self.external_kind(symbol.qualified_name)
            elif isinstance(symbol, ClassRef) and symbol.node is not cls.node:
                found = self.class_kind(symbol, depth + 1)
            if found is not None:
                break
        self._class_kinds[cls.node] = found
        return found

    def returned(self, annotation: ast.expr | None, *, module: SourceModule) -> TypeInfo | None:
        """What a call hands out, from its declared return type: `AsyncIterator[AsyncSession]` is a session."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            annotation = _parse_annotation(annotation.value)
        if isinstance(annotation, ast.Subscript) and last_name(annotation.value) in HANDED_OUT | {"Coroutine"}:
            arguments = type_arguments(annotation)
            inner = arguments[-1] if last_name(annotation.value) == "Coroutine" else arguments[0]
            return self.of_annotation(inner, module=module) if arguments else None
        return self.of_annotation(annotation, module=module)

    def is_session_factory(self, qualified_name: str) -> bool:
        return self._configured(qualified_name, self._session_factories)

    @staticmethod
    def _configured(qualified_name: str, names: frozenset[str]) -> bool:
        return any(_same_class(qualified_name, name) for name in names)


def _same_class(qualified_name: str, name: str) -> bool:
    """`sqlmodel.ext.asyncio.session.AsyncSession` is the `sqlmodel...AsyncSession` named elsewhere."""
    if qualified_name == name:
        return True
    root, last = name.partition(".")[0], name.rpartition(".")[2]
    return qualified_name.partition(".")[0] == root and qualified_name.rpartition(".")[2] == last


def is_network_library(qualified_name: str) -> bool:
    """A class or function of an HTTP library or API SDK (whose clients' calls are network I/O)."""
    return any(qualified_name == library or qualified_name.startswith(f"{library}.") for library in NETWORK_LIBRARIES)


def is_network_call(qualified_name: str, *, awaited: bool) -> bool:
    """A module-level function that does network I/O: `httpx.get`, `requests.post`, `litellm.acompletion` awaited."""
    if qualified_name in NETWORK_FUNCTIONS:
        return True
    last = qualified_name.rpartition(".")[2]
    in_sdk = any(qualified_name.startswith(f"{library}.") for library in SDK_LIBRARIES)
    return awaited and in_sdk and last[:1].islower() and not last.startswith("_")


def type_arguments(subscript: ast.Subscript) -> list[ast.expr]:
    inner = subscript.slice
    return list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]


def _parse_annotation(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None


def model_name(expr: ast.expr) -> str | None:
    """The name of a class given as an expression (`Job`, `models.Job`), for a model the audit cannot read."""
    name = last_name(expr)
    return name if isinstance(expr, ast.Name | ast.Attribute) and name and name[:1].isupper() else None


def opaque_model(name: str) -> ModelInfo:
    """A mapped class defined outside the source tree: an ORM row, its attributes unknown."""
    return ModelInfo(
        name=name,
        attributes=frozenset(),
        lazy_relationships=frozenset(),
        json_columns=frozenset(),
        sql_onupdate_columns=frozenset(),
        opaque=True,
    )
