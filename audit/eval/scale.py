"""How the audit's time and memory grow with the size of a service: generated services of
250, 500, 1,000 and 2,000 files, each audited in a fresh process.

The generated service is shaped like the ones the audit is for: ORM models with
relationships, FastAPI routes that start background tasks, services that query with an
AsyncSession and call an HTTP API, tasks that open their own sessions, and the plain
modules every service has (schemas, helpers, constants) that mention no session at all.
Each route module imports its services, each service its models; about one module in six
breaks a rule, so the audit has findings to report. Prints one line per size: files,
findings, wall time, CPU time and peak memory of the auditing process.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SIZES = (250, 500, 1000, 2000)
AUDIT_ROOT = Path(__file__).resolve().parents[1]
# One service module in each group of this many calls its API inside the session (R2).
BROKEN_EVERY = 6

MODEL_HEADER = '''
"""Models {i}: rows of the service's tables {i}, with their items."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from svc.models.base import Base
'''

MODEL = """

class Record{i}(Base):
    __tablename__ = "records_{i}"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    items: Mapped[list["Item{i}"]] = relationship(back_populates="record", lazy="selectin")


class Item{i}(Base):
    __tablename__ = "items_{i}"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records_{i}.id"))
    value: Mapped[str] = mapped_column(String(200))
    record: Mapped[Record{i}] = relationship(back_populates="items")
"""

SCHEMA_HEADER = '''
"""Schemas {i}: what the API takes and returns for tables {i}."""
from pydantic import BaseModel, Field
'''

SCHEMA = """

class Create{i}(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    values: list[str] = Field(default_factory=list)


class Read{i}(BaseModel):
    id: int
    name: str
    status: str


def describe_{i}(read: Read{i}) -> str:
    return f"{{read.name}} ({{read.status}})"
"""

HELPER_HEADER = '''
"""Helpers {i}: formatting and small computations, no I/O."""
import re
from collections.abc import Iterable

WORD = re.compile(r"[a-z0-9]+")
'''

HELPER = """

def slug_{i}(text: str) -> str:
    return "-".join(WORD.findall(text.lower()))


def chunks_{i}(items: Iterable[str], size: int = 50) -> list[list[str]]:
    batch: list[str] = []
    found: list[list[str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            found.append(batch)
            batch = []
    if batch:
        found.append(batch)
    return found


def score_{i}(values: list[float]) -> float:
    if not values:
        return 0.0
    mean = sum(values) / len(values)
    return sum((value - mean) ** 2 for value in values) / len(values)
"""

SERVICE_HEADER = '''
"""Service {i}: reads and writes tables {m}; enriches rows from the upstream API."""
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from svc.db import background_session
from svc.models.m{m} import Item{m}_0, Item{m}_1, Item{m}_2, Record{m}_0, Record{m}_1, Record{m}_2
from svc.util.u{u} import chunks_{u}_0, slug_{u}_0
'''

SERVICE = """

async def create_{i}(session: AsyncSession, name: str, values: list[str]) -> Record{m}_{j}:
    record = Record{m}_{j}(name=slug_{u}_0(name))
    session.add(record)
    for batch in chunks_{u}_0(values):
        session.add_all([Item{m}_{j}(record=record, value=value) for value in batch])
    await session.commit()
    return record


async def fetch_extra_{i}(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.get(f"https://upstream.test/{{name}}")
    response.raise_for_status()
    return response.json()


async def enrich_{i}(record_id: int) -> None:
    async with background_session() as session:
        record = await session.get(Record{m}_{j}, record_id)
        name = record.name if record else ""
    async with httpx.AsyncClient() as client:
        extra = await fetch_extra_{i}(client, name)
    async with background_session() as session:
        record = await session.get(Record{m}_{j}, record_id)
        if record is not None:
            record.status = extra.get("status", "done")
"""

BROKEN_SERVICE_TAIL = """

async def enrich_in_one_session_{i}(record_id: int) -> None:
    async with background_session() as session:
        record = await session.get(Record{m}_{j}, record_id)
        async with httpx.AsyncClient() as client:
            extra = await fetch_extra_{i}(client, record.name)
        record.status = extra.get("status", "done")


async def count_{i}(session: AsyncSession) -> int:
    rows = await session.scalars(select(Record{m}_{j}))
    return len(rows.all())
"""

ROUTE = '''
"""Routes {i}: the HTTP API of table {i}; enrichment runs after the response."""
from fastapi import APIRouter, BackgroundTasks

from svc.db import SessionDep
from svc.schemas.p{p} import Create{p}_0 as Create{p}, Read{p}_0 as Read{p}
from svc.services.s{s} import create_{s}_0 as create_{s}, enrich_{s}_0 as enrich_{s}

router = APIRouter(prefix="/t{i}")


@router.post("/", status_code=202, response_model=Read{p})
async def create(body: Create{p}, background_tasks: BackgroundTasks, session: SessionDep) -> Read{p}:
    record = await create_{s}(session, body.name, body.values)
    background_tasks.add_task(enrich_{s}, record.id)
    return Read{p}(id=record.id, name=record.name, status=record.status)
'''

TASK = '''
"""Task {i}: a periodic sweep of table {i}, each round in its own session."""
import asyncio
import logging

from sqlalchemy import update

from svc.db import background_session
from svc.models.m{m} import Record{m}_{j}

logger = logging.getLogger(__name__)


async def sweep_{i}(interval: float) -> None:
    while True:
        try:
            async with background_session() as session:
                stale = Record{m}_{j}.status == "stale"
                await session.execute(update(Record{m}_{j}).where(stale).values(status="pending"))
        except Exception:
            logger.exception("sweep {i} failed")
        await asyncio.sleep(interval)
'''

DB = '''
"""The engine, the session dependency and the background session of the service."""
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://localhost/svc")
Sessions = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with Sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@asynccontextmanager
async def background_session() -> AsyncIterator[AsyncSession]:
    async with Sessions.begin() as session:
        yield session


async def close() -> None:
    await engine.dispose()
'''

BASE = '''
"""The declarative base of every model."""
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
'''

# Definitions of each kind in one module (models, schemas, helpers and services come in threes).
REPEAT = 3
# Share of each kind of module in a service (they add up to 1).
MIX = (("models", 0.15), ("schemas", 0.15), ("util", 0.25), ("services", 0.2), ("routes", 0.15), ("tasks", 0.1))


def generate(root: Path, files: int) -> None:
    """A service of about `files` modules under `root/svc`."""
    counts = {kind: max(1, round(files * share)) for kind, share in MIX}
    package = root / "svc"
    write(package / "__init__.py", '"""The service."""\n')
    write(package / "db.py", DB)
    for kind in counts:
        write(package / kind / "__init__.py", f'"""{kind}"""\n')
    write(package / "models" / "base.py", BASE)
    for i in range(counts["models"]):
        write(package / "models" / f"m{i}.py", repeated(MODEL_HEADER, MODEL, i=i))
    for i in range(counts["schemas"]):
        write(package / "schemas" / f"p{i}.py", repeated(SCHEMA_HEADER, SCHEMA, i=i))
    for i in range(counts["util"]):
        write(package / "util" / f"u{i}.py", repeated(HELPER_HEADER, HELPER, i=i))
    for i in range(counts["services"]):
        fields = {"m": i % counts["models"], "u": i % counts["util"]}
        tail = BROKEN_SERVICE_TAIL if i % BROKEN_EVERY == 0 else ""
        write(package / "services" / f"s{i}.py", repeated(SERVICE_HEADER, SERVICE + tail, i=i, **fields))
    for i in range(counts["routes"]):
        fields = {"i": i, "p": i % counts["schemas"], "s": i % counts["services"]}
        write(package / "routes" / f"r{i}.py", ROUTE.format(**fields))
    for i in range(counts["tasks"]):
        write(package / "tasks" / f"t{i}.py", TASK.format(i=i, m=i % counts["models"], j=0))


def repeated(header: str, body: str, *, i: int, **fields: int) -> str:
    """`header`, then `body` once for each of REPEAT definitions named `{i}_{j}`."""
    parts = [textwrap.dedent(header).format(i=i, **fields)]
    parts += [textwrap.dedent(body).format(i=f"{i}_{j}", j=j, **fields) for j in range(REPEAT)]
    return "".join(parts)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


MEASURE = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from background_task_audit import audit_paths
from background_task_audit.config import Config
wall, cpu = time.perf_counter(), time.process_time()
report = audit_paths([Path(sys.argv[1])], base=Path(sys.argv[1]), config=Config())
print(json.dumps({
    "files": report.files_scanned,
    "findings": len(report.findings),
    "wall": time.perf_counter() - wall,
    "cpu": time.process_time() - cpu,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(root: Path, *, python: str) -> dict[str, float]:
    command = [python, "-c", MEASURE, str(root), str(AUDIT_ROOT)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    measured: dict[str, float] = json.loads(result.stdout)
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated file counts")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the audit")
    args = parser.parse_args(argv)
    print(f"{'files':>6} {'findings':>9} {'wall s':>7} {'cpu s':>6} {'peak MB':>8}")
    for size in (int(part) for part in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="audit-scale-") as folder:
            generate(Path(folder), size)
            found = measure(Path(folder), python=args.python)
        print(
            f"{found['files']:>6.0f} {found['findings']:>9.0f} {found['wall']:>7.2f} "
            f"{found['cpu']:>6.2f} {found['peak_mb']:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
