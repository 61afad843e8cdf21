"""The HTTP contract's bodies (DESIGN §5): requests are validated here, so bad input
gets a 422 with a message a person can act on before any row is written."""

import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, model_validator

from playbook.models import JobStatus

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
        seen: set[str] = set()
        for item in self.items:
            if item in seen:
                raise ValueError(f"items must be unique: {item!r} is listed more than once")
            seen.add(item)
        return self


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
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


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    variant: str
    database: str
