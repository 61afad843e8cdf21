"""What the API and the jobs say when something goes wrong: short, and never the internals.

- `preview`: the most of a client's input any message quotes, 40 characters of its repr.
- `validation_error_handler`: FastAPI's 422, with each error's input replaced by its
  preview, locations cut short and at most `MAX_LISTED_ERRORS` errors listed: the answer to
  a 100 MB body is a few hundred bytes, and no input can make it fail to serialise.
- `ErrorOut`, `SUBMISSION_ERRORS`, `READ_ERRORS`: the refusals the operations document in
  the OpenAPI schema, each a one-sentence `detail`.
- `describe_failure`: what a job's `error` says about an exception nothing expected: its
  class and the first line of its message, at most `MAX_DESCRIPTION` characters. For a
  database error that is the database's message (it names the constraint or type at
  fault); SQLAlchemy puts the statement, its parameters and the failing row on the lines
  after it. An OSError is told by its strerror, never its path. The traceback goes to
  the log, with the job id, by the caller.
Does not guarantee: that a message the services write themselves holds no secret; they
quote hosts and URLs, which are the job's own input.
"""

import reprlib
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

PREVIEW_WIDTH = 40
MAX_LISTED_ERRORS = 20
MAX_DESCRIPTION = 300

_previews = reprlib.Repr()
_previews.maxlevel, _previews.maxlist, _previews.maxdict = 2, 3, 3
_previews.maxstring = _previews.maxother = PREVIEW_WIDTH


def preview(value: object) -> str:
    """A repr of `value` of at most `PREVIEW_WIDTH` characters, whatever its size or nesting."""
    text = _previews.repr(value)
    return text if len(text) <= PREVIEW_WIDTH else f"{text[: PREVIEW_WIDTH - 1]}…"


class ErrorOut(BaseModel):
    """A refusal the API explains in one sentence."""

    detail: str


def _documented(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description, **extra}


_RATE_LIMITED = _documented(
    "Too many requests from this client; retry after the number of seconds in Retry-After.",
    headers={"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
)
_UNAUTHENTICATED = _documented("No X-API-Key header, or not one of the configured keys.")

SUBMISSION_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _UNAUTHENTICATED,
    413: _documented("The body is larger than the configured limit (MAX_BODY_BYTES)."),
    415: _documented("The body is not application/json (charset utf-8 or none)."),
    429: _RATE_LIMITED,
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {401: _UNAUTHENTICATED, 429: _RATE_LIMITED}


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 for a request the schema refuses, quoting no more than a preview of the input."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    listed = [_short_error(error) for error in errors[:MAX_LISTED_ERRORS]]
    if len(errors) > MAX_LISTED_ERRORS:
        listed.append({"loc": [], "msg": f"and {len(errors) - MAX_LISTED_ERRORS} more errors", "type": "more_errors"})
    return JSONResponse({"detail": listed}, status_code=422)


def _short_error(error: dict[str, Any]) -> dict[str, Any]:
    short = {
        "loc": [part if isinstance(part, int) else _short_text(str(part)) for part in error["loc"]],
        "msg": _short_text(str(error["msg"]), MAX_DESCRIPTION),
        "type": error["type"],
    }
    if "input" in error:
        short["input"] = preview(error["input"])
    return short


def _short_text(text: str, width: int = PREVIEW_WIDTH) -> str:
    """`text` cut to `width`, any unpaired surrogate escaped so the answer stays UTF-8."""
    cut = text if len(text) <= width else f"{text[: width - 1]}…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def describe_failure(exc: BaseException) -> str:
    """`Class: first line of the message` for a job's `error`: no statement, parameter, path or traceback."""
    if isinstance(exc, BaseExceptionGroup):
        return _short_text("; ".join(describe_failure(inner) for inner in exc.exceptions), MAX_DESCRIPTION)
    message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    first_line = message.strip().partition("\n")[0].partition(" (Background on this error")[0]
    return _short_text(f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__, MAX_DESCRIPTION)
