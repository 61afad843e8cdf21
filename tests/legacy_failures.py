"""What each catalogued failure leaves behind, so that a legacy xfail holds only for the failure it names.

A test marked `fails_on_legacy("F2", "F11", reason=...)` is a strict xfail on legacy. Failing
an assertion is not enough: while the legacy run failed, every failure it names must have
left its signature, read from what production would have seen. `Evidence` collects it
during a legacy test: the exceptions logged with a traceback (uvicorn's "Exception in ASGI
application", a service's own `logger.exception`, asyncio's "Task exception was never
retrieved", the pool's failed close), the warnings Python printed, the pool's checkout
figures, and, read from the database, the jobs the test left unfinished. `missing()` names
the failures whose signature is absent; the `fails_on_legacy` hook in `conftest.py` turns
the xfail into a failure then.
Does not guarantee: that the failure named is the first or only one; a run that shows two
catalogued failures satisfies a mark naming either.
"""

import gc
import logging
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TextIO

from sqlalchemy import create_engine, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import IllegalStateChangeError, InvalidRequestError, MissingGreenlet
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import DetachedInstanceError
from sqlalchemy.pool import NullPool

from playbook.app.database import get_pool_stats
from playbook.app.models import Base, Job, JobStatus
from playbook.app.settings import PROJECT_ROOT

LEGACY_CODE = str(PROJECT_ROOT / "legacy")
ATTRIBUTE = re.compile(r"\.([A-Za-z_]\w*)")


class ExceptionLog(logging.Handler):
    """Keeps every record logged at ERROR or above with an exception attached, from any logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.records.append(record)


@dataclass
class Evidence:
    """What one legacy test's run left behind; `database_url` is where its jobs are read from."""

    database_url: URL
    started_at: datetime
    log: ExceptionLog = field(default_factory=ExceptionLog)
    warned: list[tuple[type[Warning], str]] = field(default_factory=list)  # category, message

    def exceptions(self) -> Iterator[BaseException]:
        """Every exception logged, and those inside exception groups."""
        for record in self.log.records:
            assert record.exc_info is not None
            exception = record.exc_info[1]
            assert exception is not None
            yield exception
            yield from _inner_exceptions(exception)

    def logged(self, logger_prefix: str) -> Iterator[tuple[str, BaseException]]:
        for record in self.log.records:
            if record.name.startswith(logger_prefix) and record.exc_info and record.exc_info[1] is not None:
                yield record.getMessage(), record.exc_info[1]

    @cached_property
    def unfinished_jobs(self) -> list[tuple[str, str]]:
        """(id, status) of the jobs created since the test started that are still pending or processing."""
        engine = create_engine(self.database_url.set(drivername="postgresql+psycopg"), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(Job.id, Job.status).where(
                        Job.created_at >= self.started_at, Job.status.in_([JobStatus.pending, JobStatus.processing])
                    )
                )
                return [(str(job_id), status) for job_id, status in rows]
        finally:
            engine.dispose()

    def note_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        """A `warnings.showwarning` that keeps the category and text only, never the object warned about."""
        self.warned.append((category, str(message)))

    def release(self) -> None:
        """Stop collecting and let go of what was collected: logged tracebacks hold the frames of
        the failed work, and through them connections that must be finalized in their own test."""
        logging.getLogger().removeHandler(self.log)
        self.log.records.clear()
        self.warned.clear()

    def missing(self, catalog_ids: tuple[str, ...]) -> list[str]:
        """The ids among `catalog_ids` whose signature this run does not show, each with what was looked for."""
        # A task that died unobserved is reported by asyncio only when it is collected.
        gc.collect()
        return [f"{id_}: {SIGNATURES[id_].shows}" for id_ in catalog_ids if not SIGNATURES[id_].seen(self)]


@dataclass(frozen=True)
class Signature:
    shows: str  # what the failure leaves behind, as the xfail's failure message says it
    seen: Callable[[Evidence], bool]


def _inner_exceptions(exception: BaseException) -> Iterator[BaseException]:
    if isinstance(exception, BaseExceptionGroup):
        for inner in exception.exceptions:
            yield inner
            yield from _inner_exceptions(inner)


def _legacy_line(exception: BaseException) -> str:
    """The line of legacy code the exception came out of, or '' if it did not pass through legacy code."""
    frames = [
        frame for frame in traceback.extract_tb(exception.__traceback__) if frame.filename.startswith(LEGACY_CODE)
    ]
    return frames[-1].line or "" if frames else ""


def _mapped_names() -> tuple[set[str], set[str]]:
    """The relationship attributes of every model, and the columns the database recomputes on update."""
    relationships: set[str] = set()
    on_update: set[str] = set()
    for mapper in Base.registry.mappers:
        relationships.update(mapper.relationships.keys())
        on_update.update(column.key for column in mapper.columns if column.onupdate is not None)
    return relationships, on_update


RELATIONSHIPS, ON_UPDATE = _mapped_names()


def _missing_greenlet_reading(reads: Callable[[set[str]], bool]) -> Callable[[Evidence], bool]:
    """MissingGreenlet out of a legacy line whose attribute reads satisfy `reads`."""

    def seen(evidence: Evidence) -> bool:
        return any(
            type(exception) is MissingGreenlet
            and str(exception).startswith("greenlet_spawn has not been called")
            and reads(set(ATTRIBUTE.findall(_legacy_line(exception))))
            for exception in evidence.exceptions()
        )

    return seen


def _raised(kind: type[BaseException], message: str) -> Callable[[Evidence], bool]:
    """An exception of `kind` whose message contains `message` was logged."""
    return lambda evidence: any(
        isinstance(exception, kind) and message in str(exception) for exception in evidence.exceptions()
    )


def _concurrent_session_use(evidence: Evidence) -> bool:
    return any(
        (isinstance(exception, InvalidRequestError) and "concurrent operations are not permitted" in str(exception))
        or isinstance(exception, IllegalStateChangeError)
        for exception in evidence.exceptions()
    )


def _never_awaited(evidence: Evidence) -> bool:
    return any(
        issubclass(category, RuntimeWarning)
        and re.fullmatch(r"coroutine 'AsyncSession\.\w+' was never awaited", message) is not None
        for category, message in evidence.warned
    )


def _closed_loop_at_dispose(evidence: Evidence) -> bool:
    return any(
        message.startswith("Exception closing connection") and str(exception) == "Event loop is closed"
        for message, exception in evidence.logged("sqlalchemy.pool")
    )


SIGNATURES = {
    "F1": Signature(
        "MissingGreenlet out of a legacy line reading a relationship",
        _missing_greenlet_reading(lambda names: bool(names & RELATIONSHIPS)),
    ),
    "F2": Signature(
        "MissingGreenlet out of a legacy line reading attributes expired by a commit",
        _missing_greenlet_reading(lambda names: bool(names) and not names & (RELATIONSHIPS | ON_UPDATE)),
    ),
    "F3": Signature(
        "MissingGreenlet out of a legacy line reading a column the database recomputes on update",
        _missing_greenlet_reading(lambda names: bool(names & ON_UPDATE)),
    ),
    "F4": Signature(
        "RuntimeWarning: coroutine 'AsyncSession.<method>' was never awaited",
        _never_awaited,
    ),
    "F5": Signature(
        "an exception logged for a Future 'attached to a different loop'",
        _raised(RuntimeError, "attached to a different loop"),
    ),
    "F6": Signature(
        "the pool logging 'Event loop is closed' while closing a connection",
        _closed_loop_at_dispose,
    ),
    "F7": Signature("DetachedInstanceError logged", _raised(DetachedInstanceError, "")),
    "F8": Signature(
        "a pooled connection still checked out when the test ended", lambda _: get_pool_stats().checked_out > 0
    ),
    "F9": Signature(
        "one session used by concurrent tasks: 'concurrent operations are not permitted'",
        _concurrent_session_use,
    ),
    "F10": Signature(
        "the pool's TimeoutError 'QueuePool limit of size ...' logged",
        _raised(PoolTimeoutError, "QueuePool limit of size"),
    ),
    "F11": Signature(
        "a job the test created left pending or processing", lambda evidence: bool(evidence.unfinished_jobs)
    ),
}
