"""What an entry check sees: one entry point, what its starters hand it, what it reaches."""

from collections.abc import Callable
from dataclasses import dataclass

from background_task_audit.entrypoints import DiscoveredEntry
from background_task_audit.kinds import Types
from background_task_audit.orm import ModelCatalog
from background_task_audit.project import FunctionRef, Project
from background_task_audit.sessions import SessionFactories
from background_task_audit.summaries import Summaries
from background_task_audit.syntax import Walker
from background_task_audit.values import Value


@dataclass(frozen=True)
class EntryContext:
    entry: DiscoveredEntry
    function: FunctionRef
    arguments: tuple[dict[str, Value], ...]
    reached: tuple[FunctionRef, ...]
    project: Project
    factories: SessionFactories
    models: ModelCatalog
    summaries: Summaries
    types: Types
    walker: Walker
    touches_sessions: Callable[[FunctionRef], bool]
