"""A Places-style text search API on `places.test`, deterministic from the query and location.

`GET /maps/api/place/textsearch/json?query=...&location=...` answers the way the real
API does: a JSON body with `status`, `results` (`place_id`, `name`, `formatted_address`,
`rating` when the place has one) and, while results remain, a `next_page_token` that the
next request sends as `&pagetoken=...`. Words in the query pick the behaviour:

| request                                   | answer                                         |
|-------------------------------------------|------------------------------------------------|
| any query                                 | 3 places per character of it (at most 60)      |
| each page                                 | 20 results; after the first page, the previous |
|                                           | page's last place comes again first            |
| `pagetoken` issued < `token_delay_ms` ago | `INVALID_REQUEST`, as the real API's delay     |
| query with `ratelimit`                    | `OVER_QUERY_LIMIT` once for each page          |
| query with `quota`                        | `OVER_QUERY_LIMIT` on every request            |
| query with `denied`                       | `REQUEST_DENIED`                               |
| query with `fail`                         | HTTP 500 for every page after the first        |
| query with `timeout`                      | no answer for `hang_seconds`                   |
| location `Nowhere`                        | `ZERO_RESULTS`                                 |

Every answer takes `latency_ms`, on top of the simulator's own latency. Page tokens are
stateless (they carry the search and when they were issued); which pages were already
rate-limited is the one thing an instance remembers.
"""

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from playbook.upstream.places import TEXT_SEARCH_PATH

PAGE_SIZE = 20
MAX_RESULTS = 60
PLACES_PER_QUERY_CHARACTER = 3
NOWHERE = "nowhere"
OVER_QUERY_LIMIT_MESSAGE = "You have exceeded your rate-limit for this API."


@dataclass(frozen=True)
class _Search:
    query: str
    location: str
    page: int


@dataclass
class PlacesApi:
    latency_ms: int = 20
    token_delay_ms: int = 50
    hang_seconds: float = 30.0
    _rate_limited_pages: set[_Search] = field(default_factory=set, init=False, repr=False)

    async def answer(self, request: Request) -> Response:
        if request.url.path != TEXT_SEARCH_PATH:
            return Response("no such endpoint", status_code=404)
        await asyncio.sleep(self.latency_ms / 1000)
        params = request.query_params
        if "pagetoken" in params:
            search = self._redeem(params["pagetoken"])
            if search is None:
                return _status("INVALID_REQUEST")
        else:
            search = _Search(query=params.get("query", ""), location=params.get("location", ""), page=1)
            if not search.query:
                return _status("INVALID_REQUEST", "Missing the query parameter.")
        return await self._page(search)

    def _redeem(self, token: str) -> _Search | None:
        """The search a page token continues, or None while it is not valid (yet)."""
        try:
            fields = json.loads(base64.urlsafe_b64decode(token))
            issued_at = fields.pop("issued_at")
            search = _Search(**fields)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if time.monotonic() - issued_at < self.token_delay_ms / 1000:
            return None
        return search

    async def _page(self, search: _Search) -> Response:
        words = search.query.casefold()
        if "timeout" in words:
            await asyncio.sleep(self.hang_seconds)
        if "denied" in words:
            return _status("REQUEST_DENIED", "The provided API key is invalid.")
        if "quota" in words:
            return _status("OVER_QUERY_LIMIT", OVER_QUERY_LIMIT_MESSAGE)
        if "ratelimit" in words and search not in self._rate_limited_pages:
            self._rate_limited_pages.add(search)
            return _status("OVER_QUERY_LIMIT", OVER_QUERY_LIMIT_MESSAGE)
        if "fail" in words and search.page > 1:
            return Response("upstream exploded", status_code=500)
        pages = _pages(search_results(search.query, search.location))
        if not pages:
            return _status("ZERO_RESULTS")
        if search.page > len(pages):
            return _status("INVALID_REQUEST")
        body: dict[str, Any] = {"html_attributions": [], "results": pages[search.page - 1], "status": "OK"}
        if search.page < len(pages):
            body["next_page_token"] = _token(_Search(search.query, search.location, search.page + 1))
        return JSONResponse(body)


def search_results(query: str, location: str) -> list[dict[str, Any]]:
    """Every place a search finds, in the API's order, each once."""
    if location.casefold() == NOWHERE:
        return []
    count = min(MAX_RESULTS, PLACES_PER_QUERY_CHARACTER * len(query))
    return [_place(query, location, number) for number in range(1, count + 1)]


def _place(query: str, location: str, number: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"{query}|{location}|{number}".encode()).digest()
    place: dict[str, Any] = {
        "place_id": "ChIJ" + base64.urlsafe_b64encode(digest).decode()[:23],
        "name": f"{query.title()} #{number}",
        "formatted_address": f"{100 + number} Main Street, {location}",
    }
    if number % 10:  # like the real API, a place nobody rated has no `rating`
        place["rating"] = round(3.0 + number * 7 % 21 / 10, 1)
    return place


def _pages(places: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The pages the API returns: after the first, each repeats the previous page's last place."""
    if not places:
        return []
    pages = [places[:PAGE_SIZE]]
    rest = places[PAGE_SIZE:]
    while rest:
        pages.append([pages[-1][-1], *rest[: PAGE_SIZE - 1]])
        rest = rest[PAGE_SIZE - 1 :]
    return pages


def _token(search: _Search) -> str:
    fields = {"query": search.query, "location": search.location, "page": search.page, "issued_at": time.monotonic()}
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


def _status(status: str, error_message: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"html_attributions": [], "results": [], "status": status}
    if error_message is not None:
        body["error_message"] = error_message
    return JSONResponse(body)
