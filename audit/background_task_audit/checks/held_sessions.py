"""R2: no session or connection is held while awaiting network I/O or sleeping (F10)."""

from collections.abc import Iterator

from background_task_audit.checks.verdicts import Verdict, at_event, quoted
from background_task_audit.events import NetworkWaitWhileHolding
from background_task_audit.rules import SESSION_HELD_ACROSS_IO


def judge_network_wait(event: NetworkWaitWhileHolding) -> Iterator[Verdict]:
    names = quoted(name for name, _ in event.sessions)
    yield at_event(event, SESSION_HELD_ACROSS_IO, f"awaits {event.wait} while session {names} is open")
