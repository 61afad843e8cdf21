"""The abstract values the flow analysis tracks for local names, and its per-path state."""

from dataclasses import dataclass, field, replace

from background_task_audit.orm import ModelInfo
from background_task_audit.project import ClassRef

# Every relationship counts as loaded (raiseload("*") makes the rest fail loudly).
ALL_RELATIONSHIPS = frozenset({"*"})


@dataclass(frozen=True)
class SessionValue:
    """An AsyncSession (or connection); `origin` says where it came from, for messages.

    `connection`: an engine connection, which holds its database connection from the start.
    `context_var`: read from a ContextVar, which tasks created afterwards inherit.
    """

    origin: str
    from_request: bool = False
    expires_on_commit: bool | None = None
    long_lived: bool = False
    connection: bool = False
    context_var: str | None = None


@dataclass(frozen=True)
class SessionMakerValue:
    """Something that makes sessions when called: a sessionmaker or a scoped-session registry."""

    origin: str
    expires_on_commit: bool | None = None


@dataclass(frozen=True)
class EngineValue:
    origin: str


@dataclass(frozen=True)
class ClientValue:
    """A client of a slow network service: `label` names it in messages (`HTTP`, `openai`...)."""

    label: str
    methods: frozenset[str] | None = None  # the calls that go over the network; None: all of them


@dataclass(frozen=True)
class CoroutinesValue:
    """Coroutines or tasks collected to run together (a list, a comprehension), with the sessions they carry."""

    sessions: tuple[tuple[str, SessionValue], ...] = ()
    many: bool = False

    def with_more(self, sessions: dict[str, SessionValue], *, many: bool = False) -> "CoroutinesValue":
        known = dict(self.sessions)
        repeated = many or any(name in known for name in sessions) or bool(self.sessions and sessions)
        known.update(sessions)
        return CoroutinesValue(sessions=tuple(sorted(known.items())), many=self.many or repeated)


@dataclass(frozen=True)
class ClassValue:
    """A class itself, as `cls` in a classmethod: calling it makes an instance."""

    cls: ClassRef


@dataclass(frozen=True)
class ConstantValue:
    """`True`, `False` or `None` given as an argument: a flag that decides which branch runs."""

    value: bool | None


@dataclass(frozen=True)
class ContextVarValue:
    """A module-level ContextVar that holds sessions."""

    name: str


@dataclass(frozen=True)
class OrmValue:
    """An ORM instance and what the analysis knows of its loaded state."""

    model: ModelInfo
    session: str | None = None
    loaded: bool = False
    eager: frozenset[str] = frozenset()
    expired: bool = False
    modified: bool = False
    onupdate_stale: bool = False

    def has_loaded(self, relationship: str) -> bool:
        return relationship in self.eager or self.eager == ALL_RELATIONSHIPS

    def combined(self, other: "OrmValue") -> "OrmValue":
        """What holds after either of two paths: a risk on one path is a risk."""
        return replace(
            self,
            eager=self.eager & other.eager,
            expired=self.expired or other.expired,
            modified=self.modified or other.modified,
            onupdate_stale=self.onupdate_stale or other.onupdate_stale,
        )


@dataclass(frozen=True)
class QueryValue:
    """A select() of a model, the result of executing it, or the rows taken from it.

    `scalars`: its rows are ORM instances (`scalars()`, SQLModel's `exec()`), not `Row` tuples.
    """

    model: ModelInfo
    eager: frozenset[str] = frozenset()
    session: str | None = None
    expired: bool = False
    scalars: bool = True

    def row(self) -> OrmValue:
        return OrmValue(model=self.model, session=self.session, loaded=True, eager=self.eager, expired=self.expired)


@dataclass(frozen=True)
class AwaitableAttrsValue:
    """`obj.awaitable_attrs`: the next attribute is loaded explicitly."""

    owner: str


@dataclass(frozen=True)
class HolderValue:
    """An object built around a session or ORM instance, such as a service class instance."""

    cls: ClassRef
    attributes: tuple[tuple[str, "Value"], ...]

    def attribute(self, name: str) -> "Value | None":
        return dict(self.attributes).get(name)

    def sessions(self) -> dict[str, SessionValue]:
        return {name: value for name, value in self.attributes if isinstance(value, SessionValue)}


@dataclass(frozen=True)
class TupleValue:
    """A tuple some of whose items are tracked, as returned by `return job, accepted`."""

    items: tuple["Value | None", ...]


Value = (
    SessionValue
    | SessionMakerValue
    | EngineValue
    | ClientValue
    | CoroutinesValue
    | ContextVarValue
    | ConstantValue
    | ClassValue
    | OrmValue
    | QueryValue
    | AwaitableAttrsValue
    | HolderValue
    | TupleValue
)


@dataclass
class FlowState:
    """Values of local names on one path, the sessions in use, and names that alias a session.

    `left` says how the path stopped: "loop" (break, continue), "function" (return, raise),
    or None while it goes on. A path that left does not reach the statements after it.
    """

    values: dict[str, Value] = field(default_factory=dict)
    in_use: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)
    left: str | None = None

    def copy(self) -> "FlowState":
        return replace(self, values=dict(self.values), in_use=set(self.in_use), aliases=dict(self.aliases))

    def merged(self, other: "FlowState") -> "FlowState":
        """Where two paths meet. One that left elsewhere adds nothing; two that left stay left."""
        if self.left or other.left:
            return (other if self.left else self).copy()
        values = dict(other.values)
        for name, value in self.values.items():
            theirs = other.values.get(name)
            if isinstance(value, OrmValue) and isinstance(theirs, OrmValue) and value.model == theirs.model:
                values[name] = value.combined(theirs)
            else:
                values[name] = value
        return FlowState(values=values, in_use=self.in_use | other.in_use, aliases={**other.aliases, **self.aliases})

    def sessions(self) -> dict[str, SessionValue]:
        return {name: value for name, value in self.values.items() if isinstance(value, SessionValue)}

    def orm(self, name: str) -> OrmValue | None:
        value = self.values.get(name)
        return value if isinstance(value, OrmValue) else None

    def commit(self, session: str) -> None:
        """What `commit()` does to the objects of `session`."""
        found = self.sessions().get(session)
        expires = found is not None and found.expires_on_commit is True
        for name, value in list(self.values.items()):
            if isinstance(value, OrmValue) and value.session == session:
                # onupdate=func.now() is expired at flush whatever expire_on_commit says (F3).
                stale = value.onupdate_stale or (value.modified and bool(value.model.sql_onupdate_columns))
                self.values[name] = replace(
                    value, expired=value.expired or expires, onupdate_stale=stale, modified=False
                )
            elif isinstance(value, QueryValue) and value.session == session and expires:
                self.values[name] = replace(value, expired=True)
        self.in_use.discard(session)

    def rollback(self, session: str) -> None:
        """`rollback()` expires every object of `session`, whatever expire_on_commit says."""
        for name, value in list(self.values.items()):
            if isinstance(value, OrmValue) and value.session == session:
                self.values[name] = replace(value, expired=True, modified=False)
            elif isinstance(value, QueryValue) and value.session == session:
                self.values[name] = replace(value, expired=True)
        self.in_use.discard(session)

    def attach(self, name: str, session: str) -> None:
        """`session.add(obj)`: the object now belongs to `session`."""
        if (value := self.orm(name)) is not None:
            self.values[name] = replace(value, session=session)

    def refresh(self, name: str, attributes: set[str]) -> None:
        """`session.refresh(obj, attributes)`: loaded again, the listed relationships included."""
        if (value := self.orm(name)) is not None:
            self.values[name] = replace(value, expired=False, onupdate_stale=False, eager=value.eager | attributes)

    def modify(self, name: str) -> None:
        if (value := self.orm(name)) is not None:
            self.values[name] = replace(value, modified=True)

    def holding(self) -> list[str]:
        """Sessions that hold a connection now: used since their last commit, rollback or close."""
        sessions = self.sessions()
        return sorted(name for name in self.in_use if name in sessions)
