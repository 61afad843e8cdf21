"""Hostile input: every bad request gets a clear 4xx that the OpenAPI schema documents, and writes nothing.

One table for both variants: the input, the status, a phrase of the message a person
reads, and the rows written (none). The request guards live in `playbook.app`, so legacy
answers exactly as standardized does.
"""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from playbook.app.errors import MAX_LISTED_ERRORS, PREVIEW_WIDTH
from playbook.app.json_bodies import MAX_DEPTH
from playbook.app.models import Job
from playbook.harness.server import RunningApp
from tests.helpers import count_rows, error_messages

BATCHES = "/api/v3/batches"
SITEMAP = "/api/v3/sitemap/scan"
PLACES = "/api/v3/places/search"
EMAILS = "/api/v3/email-scraper/scan"
JSON = {"content-type": "application/json"}


def as_json(body: object) -> bytes:
    # ensure_ascii: a lone surrogate travels as the escape "\ud800", as a client would send it.
    return json.dumps(body).encode()


def search(query: str, location: str = "Austin, TX") -> bytes:
    return as_json({"query": query, "location": location})


def nested(depth: int) -> bytes:
    return b'{"items": ' + b"[" * depth + b'"a.test"' + b"]" * depth + b"}"


@dataclass(frozen=True)
class BadInput:
    name: str
    path: str
    body: bytes
    status: int
    says: str
    headers: dict[str, str] = field(default_factory=lambda: JSON)


NOT_CANONICAL = "is not a domain name in canonical form"
INTERNAL = "is a reserved or private-use name"
SPELLED_ADDRESS = "spells out an IP address"
NOT_JSON = "JSON decode error"

BAD_INPUTS = [
    # Characters no column can hold, or no person meant.
    BadInput("NUL in a search query", PLACES, search("den\x00tist"), 422, "must not contain control characters"),
    BadInput("NUL in a location", PLACES, search("dentist", "Aus\x00tin"), 422, "must not contain control characters"),
    BadInput("lone surrogate in a query", PLACES, search("\ud800"), 422, "valid string"),
    BadInput("lone surrogate in a domain", SITEMAP, as_json({"domain": "\udc00.test"}), 422, "not ASCII"),
    BadInput("carriage return as location", PLACES, search("dentist", "\r"), 422, "must not contain control"),
    BadInput("only spaces as query", PLACES, search("   "), 422, "at least 1 character other than spaces"),
    BadInput("NUL in a domain", EMAILS, as_json({"domain": "a\x00.test"}), 422, NOT_CANONICAL),
    # Not JSON, though Python's json module would read it.
    BadInput("NaN", BATCHES, b'{"items": [NaN]}', 422, "NaN is not a JSON number"),
    BadInput("Infinity", PLACES, b'{"query": Infinity, "location": "x"}', 422, "Infinity is not a JSON number"),
    BadInput("-Infinity", BATCHES, b'{"items": -Infinity}', 422, "-Infinity is not a JSON number"),
    BadInput("number out of range", BATCHES, b'{"items": [1e999]}', 422, "number out of range"),
    BadInput("number too long to read", BATCHES, b'{"items": [' + b"9" * 5000 + b"]}", 422, "too long to read"),
    BadInput("repeated key", SITEMAP, b'{"domain": "a.test", "domain": "b.test"}', 422, "more than once"),
    BadInput("not UTF-8", BATCHES, b'{"items": ["caf\xe9.test"]}', 422, "not UTF-8"),
    BadInput("byte order mark", BATCHES, b'\xef\xbb\xbf{"items": ["a.test"]}', 422, NOT_JSON),
    BadInput(f"nested {MAX_DEPTH + 1} deep", BATCHES, nested(MAX_DEPTH), 422, f"more than {MAX_DEPTH} deep"),
    BadInput("nested 100,000 deep", BATCHES, nested(100_000), 422, f"more than {MAX_DEPTH} deep"),
    BadInput("truncated JSON", BATCHES, b'{"items": ["a.test"', 422, NOT_JSON),
    # Media types that are not JSON in UTF-8.
    BadInput(
        "UTF-16 JSON",
        BATCHES,
        '{"items": ["a.test"]}'.encode("utf-16"),
        415,
        "JSON bodies are UTF-8",
        {"content-type": "application/json; charset=utf-16"},
    ),
    BadInput(
        "merge-patch+json",
        BATCHES,
        as_json({"items": ["a.test"]}),
        415,
        "must be application/json",
        {"content-type": "application/merge-patch+json"},
    ),
    BadInput("text/plain", SITEMAP, b"a.test", 415, "must be application/json", {"content-type": "text/plain"}),
    BadInput("no content type", SITEMAP, as_json({"domain": "a.test"}), 415, "needs Content-Type", {}),
    # Host names: one rule, canonical ASCII, nothing normalised.
    BadInput("empty domain", SITEMAP, as_json({"domain": ""}), 422, NOT_CANONICAL),
    BadInput("Kelvin sign", SITEMAP, as_json({"domain": "\u212aelvin.test"}), 422, "contains U+212A"),
    BadInput("surrounding whitespace", SITEMAP, as_json({"domain": " a.test "}), 422, NOT_CANONICAL),
    BadInput("uppercase", SITEMAP, as_json({"domain": "A.test"}), 422, NOT_CANONICAL),
    BadInput("trailing dot", SITEMAP, as_json({"domain": "a.test."}), 422, NOT_CANONICAL),
    BadInput("label over 63", SITEMAP, as_json({"domain": "a" * 64 + ".test"}), 422, NOT_CANONICAL),
    # Internal names and address literals.
    BadInput("cloud metadata name", SITEMAP, as_json({"domain": "metadata.google.internal"}), 422, INTERNAL),
    BadInput("cluster DNS", EMAILS, as_json({"domain": "kubernetes.default.svc.cluster.local"}), 422, INTERNAL),
    BadInput("localhost", EMAILS, as_json({"domain": "localhost"}), 422, NOT_CANONICAL),
    BadInput("localhost.localdomain", BATCHES, as_json({"items": ["localhost.localdomain"]}), 422, INTERNAL),
    BadInput("a.localhost", BATCHES, as_json({"items": ["a.localhost"]}), 422, INTERNAL),
    BadInput("home.arpa", BATCHES, as_json({"items": ["printer.home.arpa"]}), 422, INTERNAL),
    BadInput("127.0.0.1.nip.io", SITEMAP, as_json({"domain": "127.0.0.1.nip.io"}), 422, SPELLED_ADDRESS),
    BadInput("10-0-0-1.sslip.io", SITEMAP, as_json({"domain": "10-0-0-1.sslip.io"}), 422, SPELLED_ADDRESS),
    BadInput("IPv4 literal", SITEMAP, as_json({"domain": "127.0.0.1"}), 422, NOT_CANONICAL),
    BadInput("metadata address", BATCHES, as_json({"items": ["169.254.169.254"]}), 422, NOT_CANONICAL),
    BadInput("IPv6 literal", SITEMAP, as_json({"domain": "[::1]"}), 422, NOT_CANONICAL),
    BadInput("URL with user info", SITEMAP, as_json({"domain": "user:pw@a.test"}), 422, NOT_CANONICAL),
    BadInput("host with a port", SITEMAP, as_json({"domain": "a.test:8080"}), 422, NOT_CANONICAL),
    # Size.
    BadInput("body over MAX_BODY_BYTES", BATCHES, as_json({"items": ["a" * (1024 * 1024)]}), 413, "MAX_BODY_BYTES"),
]


def said(response_json: dict[str, Any]) -> str:
    detail = response_json["detail"]
    return detail if isinstance(detail, str) else error_messages(response_json)


def documented(schema: dict[str, Any], path: str, status: int) -> bool:
    return str(status) in schema["paths"][path]["post"]["responses"]


async def test_every_bad_request_gets_a_documented_4xx_and_writes_nothing(
    app: RunningApp, read_engine: AsyncEngine
) -> None:
    schema = (await app.client.get("/openapi.json")).json()
    seen = []
    for case in BAD_INPUTS:
        jobs_before = await count_rows(read_engine, Job)
        response = await app.client.post(case.path, content=case.body, headers=case.headers)
        seen.append(
            (
                case.name,
                response.status_code,
                case.says in said(response.json()),
                documented(schema, case.path, response.status_code),
                await count_rows(read_engine, Job) - jobs_before,
            )
        )
    assert seen == [(case.name, case.status, True, True, 0) for case in BAD_INPUTS]
    assert app.escaped_exceptions == []


async def test_a_422_quotes_a_short_prefix_of_the_input_however_large(app: RunningApp) -> None:
    huge = "x" * 500_000
    response = await app.client.post(BATCHES, json={"items": [huge, "a.test", huge]})

    assert response.status_code == 422
    assert len(response.content) < 2_000
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["body", "items", 0], ["body", "items", 2]]
    assert all(len(error["input"]) <= PREVIEW_WIDTH for error in errors)
    assert errors[0]["input"].startswith("'xxxx")


async def test_a_422_lists_a_bounded_number_of_errors(app: RunningApp) -> None:
    response = await app.client.post(BATCHES, json={"items": [f"bad item {n}" for n in range(1000)]})

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) == MAX_LISTED_ERRORS + 1
    assert errors[-1] == {"loc": [], "msg": f"and {1000 - MAX_LISTED_ERRORS} more errors", "type": "more_errors"}


async def test_an_unknown_field_name_is_cut_short_in_the_location(app: RunningApp) -> None:
    response = await app.client.post(SITEMAP, json={"domain": "a.test", "k" * 10_000: 1})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["msg"] == "Extra inputs are not permitted"
    assert error["loc"][0] == "body" and len(error["loc"][1]) <= PREVIEW_WIDTH


async def test_a_json_body_with_a_utf8_charset_is_accepted(app: RunningApp) -> None:
    response = await app.client.post(
        SITEMAP, content=as_json({"domain": "a.test"}), headers={"content-type": "application/json; charset=UTF-8"}
    )
    assert response.status_code == 202, response.text
    await app.wait_idle()


async def test_search_text_keeps_inner_spaces_and_loses_surrounding_ones(
    app: RunningApp, read_engine: AsyncEngine
) -> None:
    response = await app.client.post(PLACES, content=search("  dentist near me ", "\u00a0Austin, TX"), headers=JSON)
    assert response.status_code == 202, response.text
    await app.wait_idle()
    async with read_engine.connect() as connection:
        params = await connection.scalar(select(Job.params).where(Job.id == uuid.UUID(response.json()["id"])))
    assert params == {"query": "dentist near me", "location": "Austin, TX"}
