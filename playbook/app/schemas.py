"""The HTTP contract's bodies (docs/contract.md): requests are validated here, so bad input
gets a 422 with a message a person can act on before any row is written.

Every constraint a request must meet is stated in the OpenAPI schema as well (patterns,
lengths, item counts, unique items), and the validators accept exactly what the schema
describes: a request valid by the schema is accepted. Error messages quote at most a short
prefix of the input (`preview`).
"""

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
    WithJsonSchema,
    model_validator,
)

from playbook.app.errors import preview
from playbook.app.hostnames import DOMAIN_JSON_SCHEMA, check_domain
from playbook.app.models import JobKind, JobStatus

MAX_BATCH_ITEMS = 1000
MAX_SITEMAP_DOMAINS = 50
MAX_SEARCH_TEXT = 200

Domain = Annotated[StrictStr, AfterValidator(check_domain), WithJsonSchema(DOMAIN_JSON_SCHEMA)]


def _unique(values: list[str], *, field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field} must be unique: {preview(value)} is listed more than once")
        seen.add(value)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Domain] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="Domains to fetch.",
        json_schema_extra={"uniqueItems": True},
    )

    @model_validator(mode="after")
    def _items_are_unique(self) -> "BatchRequest":
        _unique(self.items, field="items")
        return self


class SitemapScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain


class SitemapBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domains: list[Domain] = Field(min_length=1, max_length=MAX_SITEMAP_DOMAINS, json_schema_extra={"uniqueItems": True})

    @model_validator(mode="after")
    def _domains_are_unique(self) -> "SitemapBatchRequest":
        _unique(self.domains, field="domains")
        return self


# Control characters (C0, DEL, C1) are refused; the spaces `str.strip()` removes besides them are
# listed, so "at least one character that is not a space" reads the same in ECMA 262 and in Python.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_SPACE = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SEARCH_TEXT_PATTERN = rf"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
_SEARCH_TEXT = re.compile(SEARCH_TEXT_PATTERN)
_CONTROL_CHARACTER = re.compile(rf"[{_CONTROL}]")


def _check_search_text(value: str) -> str:
    """`value` without surrounding spaces, if it has no control characters and is more than spaces."""
    # Unpaired surrogates never get here: pydantic refuses them as no valid string.
    if _SEARCH_TEXT.fullmatch(value) is None:
        if _CONTROL_CHARACTER.search(value):
            raise ValueError("must not contain control characters (U+0000-U+001F, U+007F-U+009F)")
        raise ValueError("String should have at least 1 character other than spaces")
    return value.strip()


SearchText = Annotated[
    StrictStr,
    Field(min_length=1, max_length=MAX_SEARCH_TEXT),
    AfterValidator(_check_search_text),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SEARCH_TEXT,
            "pattern": SEARCH_TEXT_PATTERN,
            "description": "Free text without control characters, not only spaces; surrounding spaces are removed.",
        }
    ),
]


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


MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
# A cursor is the key of the last entry of the page before; keys are made of these characters
# (domains, e-mail addresses, digits), and any such string is a position in the order.
CURSOR_PATTERN = r"^[a-z0-9._+@-]{1,320}$"


class ResultsPage(BaseModel):
    """One page of a job's results, in a fixed order; `next_cursor` leads to the next one."""

    job_id: uuid.UUID
    next_cursor: str | None = Field(description="Pass as `cursor` to read the next page; null on the last page.")


class BatchResults(ResultsPage):
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


class SitemapResults(ResultsPage):
    kind: Literal["sitemap_scan", "sitemap_batch"]
    sitemap_files: list[SitemapFileOut]
    urls: list[SitemapUrlOut]


class PlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    place_id: str
    name: str
    address: str
    rating: float | None


class PlacesResults(ResultsPage):
    kind: Literal["places_search"] = "places_search"
    places: list[PlaceOut]


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: str
    source_url: str


class EmailResults(ResultsPage):
    kind: Literal["email_scan"] = "email_scan"
    domain: str
    contacts: list[ContactOut]


JobResults = BatchResults | SitemapResults | PlacesResults | EmailResults


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    variant: str
    auth: Literal["api-keys", "open"] = Field(description="open: no API keys are configured (local use only).")
