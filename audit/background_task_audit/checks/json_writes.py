"""R9: JSON columns are assigned a new value; an in-place change is not tracked and is lost."""

from collections.abc import Iterator

from background_task_audit.checks.verdicts import Verdict, at_event
from background_task_audit.events import JsonMutation
from background_task_audit.rules import JSON_MUTATED_IN_PLACE


def judge_json_mutation(event: JsonMutation) -> Iterator[Verdict]:
    subject = f"`{event.name}.{event.attribute}`"
    yield at_event(event, JSON_MUTATED_IN_PLACE, f"{subject} (JSON on {event.value.model.name}) is changed in place")
