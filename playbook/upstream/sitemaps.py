"""robots.txt and the sitemaps of a simulated site."""

from starlette.responses import Response


def serves(path: str) -> bool:
    return path == "/robots.txt" or path.startswith("/sitemap")


def document(host: str, path: str) -> Response:
    return Response("no such sitemap", status_code=404)
