"""Fetching one page of a Places text search: the unit of real work in the places service.

It follows the API's rules: a `next_page_token` only becomes valid a short while after it
was issued (until then the API answers INVALID_REQUEST), and OVER_QUERY_LIMIT asks the
client to slow down. Both are retried after a bounded exponential backoff. Returns the
page or raises `PlacesError` with a reason fit for a job's results. Like `playbook.upstream.sites`,
it holds no database resources, so callers decide where it runs relative to sessions.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from playbook.upstream.fetch import UpstreamError, get_ok

PLACES_HOST = "places.test"
TEXT_SEARCH_PATH = "/maps/api/place/textsearch/json"
TEXT_SEARCH_URL = f"http://{PLACES_HOST}{TEXT_SEARCH_PATH}"
MAX_ATTEMPTS = 5
# Seconds before the first retry, doubled for each next one: at most 0.75 s of waiting a page.
FIRST_RETRY_DELAY = 0.05
ANSWERED = frozenset({"OK", "ZERO_RESULTS"})


class PlacesError(UpstreamError):
    """The page could not be read; the message says why."""


@dataclass(frozen=True)
class FoundPlace:
    place_id: str
    name: str
    address: str
    rating: float | None


@dataclass(frozen=True)
class PlacesPage:
    places: tuple[FoundPlace, ...]
    next_page_token: str | None


async def fetch_page(*, query: str, location: str, page_token: str | None = None) -> PlacesPage:
    """The first page of the search, or the one `page_token` points to."""
    params = {"query": query, "location": location}
    if page_token is not None:
        params["pagetoken"] = page_token
    for attempt in range(1, MAX_ATTEMPTS + 1):
        body = await _get(params)
        status = body.get("status")
        if status in ANSWERED:
            return _page(body)
        if not _worth_retrying(status, with_token=page_token is not None):
            raise PlacesError(f"{status}: {body['error_message']}" if "error_message" in body else str(status))
        if attempt < MAX_ATTEMPTS:
            await asyncio.sleep(FIRST_RETRY_DELAY * 2 ** (attempt - 1))
    raise PlacesError(f"{status} after {MAX_ATTEMPTS} attempts")


def _worth_retrying(status: str | None, *, with_token: bool) -> bool:
    # INVALID_REQUEST on a page token means "not valid yet"; without one, the request is wrong.
    return status == "OVER_QUERY_LIMIT" or (status == "INVALID_REQUEST" and with_token)


async def _get(params: dict[str, str]) -> dict[str, Any]:
    response = await get_ok(TEXT_SEARCH_URL, error=PlacesError, params=params)
    try:
        body = response.json()
    except ValueError as exc:
        raise PlacesError("the answer is not JSON") from exc
    if not isinstance(body, dict):
        raise PlacesError("the answer is not a JSON object")
    return body


def _page(body: dict[str, Any]) -> PlacesPage:
    try:
        places = tuple(
            FoundPlace(
                place_id=result["place_id"],
                name=result["name"],
                address=result["formatted_address"],
                rating=result.get("rating"),
            )
            for result in body.get("results", [])
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise PlacesError(f"a result lacks a field: {exc}") from exc
    return PlacesPage(places=places, next_page_token=body.get("next_page_token"))
