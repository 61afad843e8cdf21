"""Runs the one-file service of the home page under real uvicorn, as `uvicorn` would, and
reports what a client sees: the 202, then the job read back once its task has ended.

`python -m docs_src quickstart` prints it.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import URL

from docs_src.quickstart import service
from playbook.harness.server import RunningApp, serve_in_process


@contextmanager
def database_url_set(url: URL) -> Iterator[None]:
    """`DATABASE_URL` for the service's lifespan, as its run command sets it."""
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = previous


async def submit_and_read_back(app: RunningApp, items: list[str]) -> dict[str, Any]:
    accepted = await app.client.post("/jobs", json={"items": items})
    await app.wait_idle()
    job = (await app.client.get(f"/jobs/{accepted.json()['id']}")).json()
    return {
        "answer": accepted.status_code,
        "status when accepted": accepted.json()["status"],
        "read back": {key: job[key] for key in ("status", "done", "error")},
    }


async def observe(database_url: URL) -> dict[str, Any]:
    with database_url_set(database_url):
        async with serve_in_process(service.app) as app:
            return {
                "three items": await submit_and_read_back(app, ["a", "b", "c"]),
                "a failing item": await submit_and_read_back(app, ["a", "fail-1", "c"]),
                "escaped exceptions": [repr(exc) for exc in app.escaped_exceptions],
            }
