"""The HTTP contract's bodies (docs/contract.md): requests are validated here, so bad input
gets a 422 with a message a person can act on before any row is written."""

import re
import uuid
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    model_validator,
)

from playbook.app.models import JobKind, JobStatus

MAX_BATCH_ITEMS = 1000

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")


def _check_domain(value: str) -> str:
    domain = value.strip().lower()
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a domain name (expected something like 'example.com')")
    return domain


Domain = Annotated[StrictStr, AfterValidator(_check_domain)]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Domain] = Field(min_length=1, max_length=MAX_BATCH_ITEMS, description="Domains to fetch.")

    @model_validator(mode="after")
    def _items_are_unique(self) -> "BatchRequest":
        _require_unique(self.items, field="items")
        return self


def _require_unique(values: list[str], *, field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field} must be unique: {value!r} is listed more than once")
        seen.add(value)


class SitemapScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain


MAX_SITEMAP_DOMAINS = 50


class SitemapBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domains: list[Domain] = Field(min_length=1, max_length=MAX_SITEMAP_DOMAINS)

    @model_validator(mode="after")
    def _domains_are_unique(self) -> "SitemapBatchRequest":
        _require_unique(self.domains, field="domains")
        return self


SearchText = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PlacesSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: SearchText
    location: SearchText


class EmailScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: JobKind
    status: JobStatus
    total_items: int
    completed_count: int
    failed_count: int
    error: str | None
    item_results: dict[str, str]
    created_at: AwareDatetime
    start_time: AwareDatetime | None
    end_time: AwareDatetime | None


class BatchItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    domain: str
    status: Literal["completed", "failed"]
    http_status: int | None
    title: str | None
    error: str | None


class BatchResults(BaseModel):
    job_id: uuid.UUID
    kind: Literal["batch"] = "batch"
    items: list[BatchItemOut]


class SitemapUrlOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    loc: str
    lastmod: str | None


class SitemapFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    domain: str
    url: str
    kind: Literal["index", "urlset"]
    parent_url: str | None
    url_count: int


class SitemapResults(BaseModel):
    job_id: uuid.UUID
    kind: Literal["sitemap_scan", "sitemap_batch"]
    sitemap_files: list[SitemapFileOut]
    urls: list[SitemapUrlOut]


class PlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    place_id: str
    name: str
    address: str
    rating: float | None


class PlacesResults(BaseModel):
    job_id: uuid.UUID
    kind: Literal["places_search"] = "places_search"
    places: list[PlaceOut]


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: str
    source_url: str


class EmailResults(BaseModel):
    job_id: uuid.UUID
    kind: Literal["email_scan"] = "email_scan"
    domain: str
    contacts: list[ContactOut]


JobResults = BatchResults | SitemapResults | PlacesResults | EmailResults


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    variant: str
    database: str
