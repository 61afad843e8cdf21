"""R3: no implicit I/O. Attribute reads that would load from the database behind an `await`:

an attribute expired by commit (F2), an `onupdate` column expired at flush (F3), and a
relationship that was not loaded eagerly (F1).
"""

from collections.abc import Iterator

from background_task_audit.checks.verdicts import Verdict, at_event
from background_task_audit.events import AttributeRead
from background_task_audit.rules import (
    EXPIRED_ATTRIBUTE,
    LAZY_RELATIONSHIP,
    ONUPDATE_AFTER_COMMIT,
)


def judge_attribute_read(event: AttributeRead) -> Iterator[Verdict]:
    value, attribute = event.value, event.attribute
    subject = f"`{event.name}.{attribute}`"
    if value.expired:
        yield at_event(event, EXPIRED_ATTRIBUTE, f"{subject} is read after a commit expired `{event.name}`")
    elif value.onupdate_stale and attribute in value.model.sql_onupdate_columns:
        yield at_event(event, ONUPDATE_AFTER_COMMIT, f"{subject} (onupdate) is read after commit; flush expired it")
    elif value.loaded and attribute in value.model.lazy_relationships and not value.has_loaded(attribute):
        yield at_event(event, LAZY_RELATIONSHIP, f"{subject} lazy-loads a relationship that was not loaded eagerly")
