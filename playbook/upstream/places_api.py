"""A Places-style text search API on `places.test`."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PLACES_HOST = "places.test"


class PlacesApi:
    async def answer(self, request: Request) -> Response:
        return JSONResponse({"status": "REQUEST_DENIED"}, status_code=404)
