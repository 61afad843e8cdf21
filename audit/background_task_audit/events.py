"""What the flow analysis observes, handed to the checks that judge it.

Each event is one fact at one node (an attribute read on an expired object, a network
wait while a session is held, a session handed to a task...), with the module, the entry
point whose analysis reached it (None for code walked on its own), and whether the code
runs as background work, which raises the severity of what it breaks.
"""

import ast
from dataclasses import dataclass

from background_task_audit.entrypoints import SchedulingSite
from background_task_audit.sources import SourceModule
from background_task_audit.values import OrmValue, SessionValue, Value


@dataclass(frozen=True, kw_only=True)
class FlowEvent:
    module: SourceModule
    node: ast.AST
    entry: str | None
    in_task: bool


@dataclass(frozen=True, kw_only=True)
class TaskHandoff(FlowEvent):
    """Values given to a background function where it is started (`source` is the argument's code)."""

    site: SchedulingSite
    handed: tuple[tuple[str, Value], ...]


@dataclass(frozen=True, kw_only=True)
class AttributeRead(FlowEvent):
    name: str
    value: OrmValue
    attribute: str


@dataclass(frozen=True, kw_only=True)
class NetworkWaitWhileHolding(FlowEvent):
    wait: str
    sessions: tuple[tuple[str, SessionValue], ...]


@dataclass(frozen=True, kw_only=True)
class ConcurrentSessionUse(FlowEvent):
    sessions: tuple[tuple[str, SessionValue], ...]
    how: str


@dataclass(frozen=True, kw_only=True)
class JsonMutation(FlowEvent):
    name: str
    value: OrmValue
    attribute: str


@dataclass(frozen=True, kw_only=True)
class LongLivedSessionUse(FlowEvent):
    name: str
    value: SessionValue


@dataclass(frozen=True, kw_only=True)
class FailedSessionWrite(FlowEvent):
    """A status written in an `except` block on the session whose work just failed, with no rollback."""

    session: str
