"""Request bodies as the API reads them: one UTF-8 JSON document, and nothing that only looks like one.

FastAPI parses any `application/*+json` body, in whatever encoding `json.loads` guesses
(UTF-16 and UTF-32 included), and Python's `json` accepts `NaN`, `Infinity` and numbers
too large for a float, which become `inf`. None of these is JSON (RFC 8259), and a
non-finite number in the input once made the 422 itself fail to serialise. Nor is a key
given twice, which parsers resolve differently. `StrictJsonBodies`, ASGI middleware in
front of the app, reads the body of every POST, PUT and PATCH that has one and answers:

- 415 unless it is `application/json`, with no charset or `charset=utf-8`;
- 422, as FastAPI answers a body that is not JSON (`type` `json_invalid`), unless it is
  UTF-8 (no byte order mark) holding one JSON document without `NaN`/`Infinity`, without
  numbers out of a float's range or too long to convert, without a repeated key and
  nested at most `MAX_DEPTH` deep.

Anything else reaches the app unchanged, the body replayed from memory, and FastAPI parses
it again: a second parse of at most `MAX_BODY_BYTES` (the body is read through
`playbook.app.limits`), the price of checking the document before any route sees it.
Does not guarantee: that the document fits the operation's schema; that is the 422.
"""

import json
import math
from typing import Any, NoReturn

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from playbook.app.errors import preview

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_DEPTH = 32


class NotJson(Exception):
    """The body is not one JSON document; the message says why."""


def parse_json(body: bytes) -> Any:
    """The document in `body`, or `NotJson` saying why it is none."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJson(f"the body is not UTF-8: byte {exc.start} cannot start or continue a character") from None
    try:
        document = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, object_pairs_hook=_without_repeated_keys
        )
    except json.JSONDecodeError as exc:
        raise NotJson(f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise NotJson(f"the body nests arrays or objects more than {MAX_DEPTH} deep") from None
    except ValueError as exc:
        # int() refuses numbers longer than sys.get_int_max_str_digits().
        raise NotJson(f"the body holds a number too long to read ({exc})"[:200]) from None
    if _depth(document) > MAX_DEPTH:
        raise NotJson(f"the body nests arrays or objects more than {MAX_DEPTH} deep")
    return document


def _no_constant(name: str) -> NoReturn:
    raise NotJson(f"the body is not JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise NotJson(f"the body holds a number out of range: {preview(text)}")
    return number


def _without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise NotJson(f"the body gives the key {preview(key)} more than once")
        seen.add(key)
    return dict(pairs)


def _depth(document: Any) -> int:
    """How deeply arrays and objects nest in `document`, counted without recursion."""
    deepest, level = 0, [(document, 1)]
    while level:
        value, depth = level.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            level.extend((child, depth + 1) for child in children)
    return deepest


def media_type_refusal(content_type: str | None) -> str | None:
    """Why a body of `content_type` is not read as JSON, or None if it is `application/json` in UTF-8."""
    if content_type is None:
        return "a body needs Content-Type: application/json"
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != "application/json":
        return f"the body must be application/json, not {preview(media_type)}"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return f"JSON bodies are UTF-8, not {preview(value.strip())}"
    return None


class StrictJsonBodies:
    """ASGI middleware: 415 and 422 for bodies that are not one UTF-8 JSON document."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if not _announces_body(headers):
            return await self.app(scope, receive, send)
        if refusal := media_type_refusal(headers.get("content-type")):
            return await JSONResponse({"detail": refusal}, status_code=415)(scope, receive, send)
        body = await _read_body(receive)
        try:
            parse_json(body)
        except NotJson as exc:
            error = {"loc": ["body"], "msg": f"JSON decode error: {exc}", "type": "json_invalid"}
            return await JSONResponse({"detail": [error]}, status_code=422)(scope, receive, send)
        await self.app(scope, _replaying(body, receive), send)


def _announces_body(headers: Headers) -> bool:
    return headers.get("content-length", "0") != "0" or "chunked" in headers.get("transfer-encoding", "").lower()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app `body` once, then whatever the server sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
