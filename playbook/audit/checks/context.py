"""What an entry check sees: one entry point, what its starters hand it, what it reaches."""

from dataclasses import dataclass

from playbook.audit.entrypoints import DiscoveredEntry
from playbook.audit.orm import ModelCatalog
from playbook.audit.project import FunctionRef, Project
from playbook.audit.sessions import SessionFactories
from playbook.audit.summaries import Summaries
from playbook.audit.values import Value


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
