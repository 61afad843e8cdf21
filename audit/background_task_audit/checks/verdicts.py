"""A check's verdict: which check, what it saw, and where."""

import ast
from collections.abc import Iterable
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
    in_background: bool = True

    def finding(self, *, entry_point: str | None) -> Finding:
        line, column = getattr(self.node, "lineno", 1), getattr(self.node, "col_offset", 0)
        location = Location(self.module.display_path, line, column + 1)
        return Finding(
            location=location,
            check=self.check,
            message=self.message,
            entry_point=entry_point,
            severity=self.check.severity_for(in_background=self.in_background),
            in_background=self.in_background,
        )


def at_event(event: FlowEvent, check: Check, message: str, *, in_background: bool | None = None) -> Verdict:
    """A verdict at the event's node; in background code when the walk that saw it was a task's."""
    background = event.in_task if in_background is None else in_background
    return Verdict(check=check, message=message, module=event.module, node=event.node, in_background=background)


def quoted(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)
