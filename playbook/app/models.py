"""The tables both variants write: jobs and what each job produced.

The models are the ones a team would have: plain declarative classes with SQLAlchemy's
defaults (lazy loading, `onupdate` timestamps). Each variant's code decides how it loads
and writes them; the models do not protect against misuse.

Every job has an owner, the API key that created it (`playbook.app.auth`); results are
read through their job, so an owner sees its own only. Contacts are shared by the jobs of
one owner, never across owners.
"""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import DateTime, ForeignKey, String, Table, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    # Stopped by a shutdown or a lost process before it finished: resumed, never final.
    interrupted = "interrupted"
    completed = "completed"
    partial = "partial"
    failed = "failed"


class JobKind(StrEnum):
    """What a job does; `/results` reads each kind's own tables."""

    batch = "batch"
    sitemap_scan = "sitemap_scan"
    sitemap_batch = "sitemap_batch"
    places_search = "places_search"
    email_scan = "email_scan"


TERMINAL_STATUSES = frozenset({JobStatus.completed, JobStatus.partial, JobStatus.failed})
UNFINISHED_STATUSES = frozenset({JobStatus.pending, JobStatus.processing, JobStatus.interrupted})
# The owner of jobs created while the API runs without API keys.
OPEN_OWNER = "open"


class Base(AsyncAttrs, DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, str]: JSONB,
        dict[str, Any]: JSONB,
    }
    if TYPE_CHECKING:
        # Every model here names a `__tablename__`, so its `__table__` is a `Table`: typed as
        # such, Core statements on it (insert, update) type-check. SQLAlchemy types it `FromClause`.
        __table__: ClassVar[Table]


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64), default=OPEN_OWNER, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.pending)
    total_items: Mapped[int] = mapped_column(default=0)
    completed_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    item_results: Mapped[dict[str, str]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    # A SQL-expression onupdate: the value is only known to the database after a flush (F3).
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    # Who runs the job ("background" or "procrastinate"), the process running it
    # (an `Instance`), and how many runs it has had: what recovery after a crash reads.
    executor: Mapped[str] = mapped_column(String(16), default="background", server_default="background")
    instance_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")

    sitemap_files: Mapped[list["SitemapFile"]] = relationship(back_populates="job", order_by="SitemapFile.id")


class BatchItem(Base):
    """What the batch service found at one site."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("job_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None]
    title: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SitemapFile(Base):
    """One sitemap document fetched for a domain: an index of other sitemaps, or a set of URLs."""

    __tablename__ = "sitemap_files"
    __table_args__ = (UniqueConstraint("job_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # "index" or "urlset"
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sitemap_files.id", ondelete="CASCADE"))
    url_count: Mapped[int] = mapped_column(default=0)

    job: Mapped[Job] = relationship(back_populates="sitemap_files")
    urls: Mapped[list["SitemapUrl"]] = relationship(back_populates="sitemap_file", order_by="SitemapUrl.id")


class SitemapUrl(Base):
    __tablename__ = "sitemap_urls"
    __table_args__ = (UniqueConstraint("sitemap_file_id", "loc"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sitemap_file_id: Mapped[int] = mapped_column(ForeignKey("sitemap_files.id", ondelete="CASCADE"), index=True)
    loc: Mapped[str] = mapped_column(Text)
    lastmod: Mapped[str | None] = mapped_column(String(32))

    sitemap_file: Mapped[SitemapFile] = relationship(back_populates="urls")


class Place(Base):
    """A place from the Places-style API, stored once whatever search found it."""

    __tablename__ = "places"

    place_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    rating: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class JobPlace(Base):
    """Which places a search job found, in the order the API returned them."""

    __tablename__ = "job_places"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    place_id: Mapped[str] = mapped_column(ForeignKey("places.place_id"), primary_key=True)
    position: Mapped[int]


class Contact(Base):
    """An e-mail address found on a domain's pages, stored once per domain and owner."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("owner", "domain", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(253))
    email: Mapped[str] = mapped_column(String(320))
    source_url: Mapped[str] = mapped_column(Text)


class Instance(Base):
    """A process that runs jobs (an app or a worker), alive while its heartbeat is recent."""

    __tablename__ = "instances"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    role: Mapped[str] = mapped_column(String(16))  # "app" or "worker"
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    heartbeat_at: Mapped[datetime] = mapped_column(server_default=func.now())
