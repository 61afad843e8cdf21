"""A check's verdict: which check, what it saw, and where."""

import ast
from dataclasses import dataclass

from background_task_audit.events import FlowEvent
from background_task_audit.findings import Finding, Location
from background_task_audit.rules import Check
from background_task_audit.sources import SourceModule


@dataclass(frozen=True)
class Verdict:
    check: Check
    message: str
    module: SourceModule
    node: ast.AST

    def finding(self, *, entry_point: str | None) -> Finding:
        location = Location(self.module.display_path, self.node.lineno, self.node.col_offset + 1)
        return Finding(location=location, check=self.check, message=self.message, entry_point=entry_point)


def at_event(event: FlowEvent, check: Check, message: str) -> Verdict:
    return Verdict(check=check, message=message, module=event.module, node=event.node)


def quoted(names) -> str:
    return ", ".join(f"`{name}`" for name in names)
