"""`make tracebacks`: the legacy services failing for real, written where the docs include it.

Runs each failure of the catalog the way the spec in `tests/` reproduces it, on a database
of its own, and writes what production would have shown to `docs/generated/tracebacks/`:

- `F<n>.txt`: the exception as it was logged (by uvicorn, asyncio, the connection pool or
  the service itself), with runs of frames inside installed packages collapsed to one
  line; the last frame and the exception line are kept as Python prints them. F4 holds
  the warnings Python printed instead, F8 what a closed session still does (no legacy
  service shows it on this FastAPI), F11 the HTTP exchange a client had and the one log
  line the service left.
- `F2-http.txt`: the 202 the legacy batch's client got, and the job read back after the
  task had died.
- `F<n>-message.txt`, for each failure that ends in a traceback: its last line, the
  exception as Python printed it, for the pages that quote the message alone.

Every capture checks that the failure happened as the catalog says, and the command fails
without writing anything when one did not.
"""

import asyncio
import gc
import json
import linecache
import logging
import re
import sys
import sysconfig
import traceback
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.exc import InvalidRequestError, MissingGreenlet
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm.exc import DetachedInstanceError
from sqlalchemy.pool import NullPool

from legacy.db import get_session as get_legacy_request_session
from playbook.app.database import bound_engine, get_pool_stats
from playbook.app.factory import create_app
from playbook.app.models import Job, JobStatus, utcnow
from playbook.app.settings import PROJECT_ROOT, Settings, get_settings
from playbook.harness.databases import prepare_database
from playbook.harness.server import RunningApp, serve_in_process
from standardized.db import get_background_session

OUTPUT = PROJECT_ROOT / "docs" / "generated" / "tracebacks"
FAILURE_IDS = tuple(f"F{number}" for number in range(1, 12))
TRACEBACK = OUTPUT / "F2.txt"
EXCHANGE = OUTPUT / "F2-http.txt"
# The failures whose capture ends with the exception line.
RAISED = ("F1", "F2", "F3", "F5", "F6", "F7", "F9", "F10")
MESSAGES = frozenset(OUTPUT / f"{failure}-message.txt" for failure in RAISED)
CAPTURED_FILES = frozenset({*(OUTPUT / f"{failure}.txt" for failure in FAILURE_IDS), EXCHANGE})
OUTPUT_FILES = CAPTURED_FILES | MESSAGES
INSTALLED = (Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["stdlib"]))
# The "file" of a function SQLAlchemy generates: `<sqlalchemy generated ... wrapper for sqlalchemy.orm...>`.
GENERATED_CODE = re.compile(r"<.* for (?P<package>\w+)\..*>")

BATCH_ITEMS = ["alpha.test", "beta.test", "gamma.test"]
SITEMAP_DOMAINS = ["shop.test", "blog.test", "flat-1.test"]
EMAIL_DOMAIN = "shop.test"
EMAIL_LOGGER = "legacy.tasks.email_scraper"
POOL_LOGGER = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"
PLACES_LOGGER = "legacy.services.places.places_search_service"
ASYNCIO_LOGGER = "asyncio"
# Four searches of four slow pages each, on two connections that nobody waits for long.
SMALL_POOL = {"pool_size": 2, "pool_timeout": 0.5, "upstream_latency_ms": 400, "upstream_timeout": 5.0}
PLACES_SEARCHES = [
    {"query": "pizza restaurants downtown", "location": city}
    for city in ("Austin, TX", "Boston, MA", "Chicago, IL", "Denver, CO")
]
# What a legacy e-mail scan leaves behind besides the warnings F4 shows: a connection of a
# closed event loop, finalized by the garbage collector.
EMAIL_SCAN_LEFTOVERS = (
    (r"coroutine 'Connection\._cancel' was never awaited", RuntimeWarning),
    (r"unclosed transport", ResourceWarning),
    (r"unclosed <socket\.socket", ResourceWarning),
)

Captured = dict[Path, str]
T = TypeVar("T")


class NotReproduced(AssertionError):
    """A legacy run did not fail the way the catalog says; the docs would show something false."""


# --- formatting ------------------------------------------------------------------------


def _installed_package(filename: str) -> str | None:
    """The top-level package an installed file belongs to, or None for the project's own files."""
    generated = GENERATED_CODE.fullmatch(filename)
    if generated:
        return generated["package"]
    path = Path(filename)
    if not path.is_absolute():
        # Compiled extensions (asyncpg's Cython) name their sources relative to their package.
        return path.parts[0]
    for root in INSTALLED:
        if path.is_relative_to(root):
            return path.relative_to(root).parts[0].removesuffix(".py")
    return None


def _shown_path(filename: str) -> str:
    path = Path(filename)
    for root in (*INSTALLED, PROJECT_ROOT):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return filename


def _collapsed(packages: list[str]) -> str:
    names = ", ".join(dict.fromkeys(packages))
    return f"  [... {len(packages)} frames in {names} ...]"


def format_trimmed(exc: BaseException) -> str:
    """The traceback as Python prints it, with runs of installed-package frames collapsed."""
    frames = traceback.extract_tb(exc.__traceback__)
    lines = ["Traceback (most recent call last):"]
    hidden: list[str] = []
    for position, frame in enumerate(frames, start=1):
        package = _installed_package(frame.filename)
        if package is not None and position < len(frames):
            hidden.append(package)
            continue
        if hidden:
            lines.append(_collapsed(hidden))
            hidden = []
        lines.append(f'  File "{_shown_path(frame.filename)}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(exc))
    return "\n".join(lines) + "\n"


def _log_line(record: logging.LogRecord) -> str:
    return f"{record.levelname} {record.name}: {record.getMessage()}"


def logged_exception(record: logging.LogRecord) -> BaseException:
    """The exception a log record carries."""
    if record.exc_info is None or record.exc_info[1] is None:
        raise NotReproduced(f"{_log_line(record)}: logged without an exception")
    return record.exc_info[1]


def format_logged(record: logging.LogRecord) -> str:
    """A log record with its exception, as a logging handler would print it."""
    return f"{_log_line(record)}\n{format_trimmed(logged_exception(record))}"


def format_warning(warning: warnings.WarningMessage) -> str:
    """A warning as Python prints it: where, what, and the line of source."""
    where = f"{_shown_path(warning.filename)}:{warning.lineno}"
    source = linecache.getline(warning.filename, warning.lineno).strip()
    return f"{where}: {warning.category.__name__}: {warning.message}\n  {source}\n"


def format_exchange(response: httpx.Response) -> str:
    request = response.request
    body = json.loads(request.content) if request.content else None
    return "\n".join(
        [
            f"{request.method} {request.url.path}" + (f" {json.dumps(body)}" if body else ""),
            f"HTTP {response.status_code} {response.reason_phrase}",
            json.dumps(response.json(), indent=2),
        ]
    )


# --- what a run left behind ------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


@contextmanager
def logged_exceptions(*logger_names: str) -> Iterator[list[logging.LogRecord]]:
    """The records with an exception that the named loggers emit inside the block."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def only(found: Sequence[T], expected_type: type[BaseException], where: str) -> T:
    """The one item of `found`, which must be (or carry) an exception of `expected_type`."""
    exceptions = [logged_exception(item) if isinstance(item, logging.LogRecord) else item for item in found]
    if len(found) != 1 or type(exceptions[0]) is not expected_type:
        raise NotReproduced(f"{where}: expected one {expected_type.__name__}, got {exceptions!r}")
    return found[0]


@asynccontextmanager
async def legacy_app(url: URL, settings: Settings) -> AsyncIterator[RunningApp]:
    async with serve_in_process(create_app("legacy", database_url=url, settings=settings)) as app:
        yield app


async def submitted_and_finished(
    app: RunningApp, path: str, body: dict[str, Any]
) -> tuple[httpx.Response, httpx.Response]:
    """The 202 for a new job, and the job read back once its background task has ended."""
    accepted = await app.client.post(path, json=body)
    await app.wait_idle()
    return accepted, await app.client.get(f"/api/v3/jobs/{accepted.json()['id']}")


# --- the captures, one legacy service (or test) each -----------------------------------


async def batch_failure(url: URL, settings: Settings) -> Captured:
    """F2: the batch task reads the batch its route committed (tests/test_batch.py)."""
    async with legacy_app(url, settings) as app:
        accepted, job = await submitted_and_finished(app, "/api/v3/batches", {"items": BATCH_ITEMS})
    escaped = only(app.escaped_exceptions, MissingGreenlet, "legacy batch")
    return {
        TRACEBACK: format_trimmed(escaped),
        EXCHANGE: format_exchange(accepted) + "\n\n" + format_exchange(job) + "\n",
    }


async def sitemap_failures(url: URL, settings: Settings) -> Captured:
    """F1, F9, F3: a scan, a batch of several domains, a batch of one (tests/test_sitemap.py)."""
    runs: dict[str, tuple[str, dict[str, Any], type[BaseException]]] = {
        "F1": ("/api/v3/sitemap/scan", {"domain": SITEMAP_DOMAINS[0]}, MissingGreenlet),
        "F9": ("/api/v3/sitemap/batch", {"domains": SITEMAP_DOMAINS}, InvalidRequestError),
        "F3": ("/api/v3/sitemap/batch", {"domains": SITEMAP_DOMAINS[:1]}, MissingGreenlet),
    }
    captured: Captured = {}
    for failure, (path, body, expected) in runs.items():
        async with legacy_app(url, settings) as app:
            await submitted_and_finished(app, path, body)
        escaped = only(app.escaped_exceptions, expected, f"legacy sitemap {failure}")
        captured[OUTPUT / f"{failure}.txt"] = format_trimmed(escaped)
    return captured


async def email_scraper_failures(url: URL, settings: Settings) -> Captured:
    """F4, F5, F6, F11: one legacy e-mail scan (tests/test_email_scraper.py)."""
    with warnings_of_a_legacy_email_scan() as warned:
        captured = await _logged_by_a_legacy_email_scan(url, settings)
        # The log records held the worker thread's frames, and through them the dead loop's
        # connection: with the records gone, it is finalized here, its warnings ignored.
        gc.collect()
    never_awaited = [warning for warning in warned if "AsyncSession" in str(warning.message)]
    if len(never_awaited) != 2:
        raise NotReproduced(f"legacy e-mail scan: expected two coroutines never awaited, got {never_awaited}")
    return captured | {OUTPUT / "F4.txt": "".join(format_warning(warning) for warning in never_awaited)}


@contextmanager
def warnings_of_a_legacy_email_scan() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        for message, category in EMAIL_SCAN_LEFTOVERS:
            warnings.filterwarnings("ignore", message, category)
        yield warned


async def _logged_by_a_legacy_email_scan(url: URL, settings: Settings) -> Captured:
    with logged_exceptions(EMAIL_LOGGER, POOL_LOGGER) as logged:
        async with legacy_app(url, settings) as app:
            accepted, job = await submitted_and_finished(app, "/api/v3/email-scraper/scan", {"domain": EMAIL_DOMAIN})
    if app.escaped_exceptions or job.json()["status"] != "pending":
        raise NotReproduced(f"legacy e-mail scan: escaped {app.escaped_exceptions}, job {job.text}")
    different_loop = only(
        [record for record in logged if record.name == EMAIL_LOGGER], RuntimeError, "legacy e-mail F5"
    )
    closed_loop = only([record for record in logged if record.name == POOL_LOGGER], RuntimeError, "legacy e-mail F6")
    exchanges = [format_exchange(accepted), format_exchange(job), _log_line(different_loop)]
    return {
        OUTPUT / "F5.txt": format_logged(different_loop),
        OUTPUT / "F6.txt": format_logged(closed_loop),
        OUTPUT / "F11.txt": "\n\n".join(exchanges) + "\n",
    }


async def job_reaper_failure(url: URL, settings: Settings) -> Captured:
    """F7: the legacy app's reaper meeting a job stuck in processing at startup (tests/test_job_reaper.py)."""
    own_engine = create_async_engine(url, poolclass=NullPool)
    try:
        stuck_id = await _insert_stuck_job(own_engine)
        with logged_exceptions(ASYNCIO_LOGGER) as logged:
            async with legacy_app(url, settings):
                # The commit comes before the log line that raises: the job ends failed all the same.
                # The reaper tells nothing but the row: poll the database for it.
                while await _job_status(own_engine, stuck_id) != JobStatus.failed:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            # Nothing kept the reaper's task: its exception is logged when the task is collected.
            gc.collect()
            died = only(logged, DetachedInstanceError, "legacy job reaper")
            return {OUTPUT / "F7.txt": format_logged(died)}
    finally:
        await own_engine.dispose()


async def _insert_stuck_job(engine: AsyncEngine) -> uuid.UUID:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        job = Job(kind="batch", status=JobStatus.processing, updated_at=utcnow() - timedelta(hours=1))
        session.add(job)
        await session.commit()
    return job.id


async def _job_status(engine: AsyncEngine, job_id: uuid.UUID) -> str | None:
    async with AsyncSession(engine) as session:
        return await session.scalar(select(Job.status).where(Job.id == job_id))


async def closed_session_reuse(url: URL, settings: Settings) -> Captured:
    """F8: sessions used after close, legacy's request session and the standard one (tests/test_job_reaper.py)."""
    async with bound_engine(url, settings):
        async with asynccontextmanager(get_legacy_request_session)() as request_session:
            await request_session.execute(select(1))
        answer = await request_session.scalar(select(1))
        left_checked_out = get_pool_stats().checked_out
        await request_session.close()
        async with get_background_session() as background_session:
            await background_session.execute(select(1))
        try:
            await background_session.execute(select(1))
        except InvalidRequestError as exc:
            refused = "".join(traceback.format_exception_only(exc))
        else:
            raise NotReproduced("a closed get_background_session() session ran a query")
    if (answer, left_checked_out) != (1, 1):
        raise NotReproduced(f"legacy request session after close: {answer=}, {left_checked_out=}")
    return {
        OUTPUT / "F8.txt": (
            "# legacy/db.py get_session(): the request session, used after the dependency closed it\n"
            f"await session.scalar(select(1))  -> {answer}\n"
            f"connections checked out of the pool afterwards: {left_checked_out}\n\n"
            "# standardized/db.py get_background_session(): the same, after the session closed\n"
            f"await session.execute(select(1))  -> {refused}"
        )
    }


async def places_pool_exhaustion(url: URL, settings: Settings) -> Captured:
    """F10: four legacy searches at once on a pool of two (tests/test_places.py)."""
    small_pool = settings.model_copy(update=SMALL_POOL)
    with logged_exceptions(PLACES_LOGGER) as logged:
        async with legacy_app(url, small_pool) as app:
            await asyncio.gather(*(app.client.post("/api/v3/places/search", json=body) for body in PLACES_SEARCHES))
            await app.wait_idle()
    timed_out = [record for record in logged if type(logged_exception(record)) is PoolTimeoutError]
    if not timed_out:
        raise NotReproduced(f"legacy places: no pool timeout logged, got {[logged_exception(r) for r in logged]!r}")
    return {OUTPUT / "F10.txt": format_logged(timed_out[0])}


CAPTURES: tuple[Callable[[URL, Settings], Awaitable[Captured]], ...] = (
    batch_failure,
    sitemap_failures,
    email_scraper_failures,
    job_reaper_failure,
    closed_session_reuse,
    places_pool_exhaustion,
)


async def capture() -> Captured:
    # The reapers of the apps served here sweep once, at startup.
    settings = get_settings().model_copy(update={"reaper_interval": 3600.0})
    url = await prepare_database(settings, f"{settings.database_name}_tracebacks", replace=True)
    captured: Captured = {}
    for run in CAPTURES:
        captured |= await run(url, settings)
    if captured.keys() != CAPTURED_FILES:
        raise NotReproduced(f"captured {sorted(map(str, captured))}, expected {sorted(map(str, CAPTURED_FILES))}")
    return captured | {
        OUTPUT / f"{failure}-message.txt": exception_line(captured[OUTPUT / f"{failure}.txt"]) for failure in RAISED
    }


def exception_line(captured: str) -> str:
    """The last line of a captured traceback: the exception, as Python printed it."""
    return captured.rstrip("\n").splitlines()[-1] + "\n"


def as_in_a_checkout(text: str) -> str:
    """Paths of this machine (the interpreter's library, then the project holding the venv) as frames show them."""
    for root in (*INSTALLED, PROJECT_ROOT):
        text = text.replace(f"{root}/", "")
    return text


def main() -> int:
    try:
        captured = asyncio.run(capture())
    except NotReproduced as exc:
        print(f"tracebacks: {exc}", file=sys.stderr)
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for path, text in sorted(captured.items()):
        # Messages that quote a file (a task's repr) name it as the frames do, not by this machine's path.
        path.write_text(as_in_a_checkout(text))
    print(f"tracebacks: wrote {len(captured)} files to {OUTPUT.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
