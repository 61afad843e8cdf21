"""The HTML pages of a simulated site."""

from starlette.responses import HTMLResponse, Response


def page(host: str, path: str) -> Response:
    if path != "/":
        return Response("no such page", status_code=404)
    return HTMLResponse(f"<html><head><title>Home of {host}</title></head><body>{host}</body></html>")
