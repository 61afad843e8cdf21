"""What a test sees of a background task that fails, by the way it calls the app.

`httpx.ASGITransport` and `TestClient` run the whole ASGI call, background tasks included,
before they hand back the response, and re-raise a task's exception into the test.
Production answers first and only logs the exception. `serve_in_process` (real uvicorn
on 127.0.0.1) behaves like production and collects what uvicorn logs.
"""

import asyncio
import warnings

import httpx
from fastapi import BackgroundTasks, FastAPI
from sqlalchemy.engine import URL
from starlette.exceptions import StarletteDeprecationWarning

from playbook.harness.server import serve_in_process

TASK_SECONDS = 0.2

app = FastAPI()


async def fail_later() -> None:
    await asyncio.sleep(TASK_SECONDS)
    raise RuntimeError("the background task failed")


@app.post("/jobs", status_code=202)
async def create_job(background_tasks: BackgroundTasks) -> dict[str, str]:
    background_tasks.add_task(fail_later)
    return {"status": "accepted"}


# --8<-- [start:asgi_transport]
async def call_through_asgi_transport() -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        try:
            response = await client.post("/jobs")
        except RuntimeError as exc:
            return f"the call raised RuntimeError: {exc}"
    return f"answered {response.status_code}"


# --8<-- [end:asgi_transport]


def call_through_test_client() -> str:
    with warnings.catch_warnings():
        # Starlette 1.x warns that its TestClient will move to `httpx2`, which is not installed here.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    with TestClient(app) as client:
        try:
            response = client.post("/jobs")
        except RuntimeError as exc:
            return f"the call raised RuntimeError: {exc}"
    return f"answered {response.status_code}"


# --8<-- [start:uvicorn]
async def call_through_uvicorn() -> dict[str, object]:
    async with serve_in_process(app) as running:
        response = await running.client.post("/jobs")
        task_still_running = not running.idle
        await running.wait_idle()
    return {
        "status code": response.status_code,
        "task still running when the client had its answer": task_still_running,
        "escaped exceptions": [f"{type(exc).__name__}: {exc}" for exc in running.escaped_exceptions],
    }


# --8<-- [end:uvicorn]


async def observe(database_url: URL) -> dict[str, object]:
    """No database needed: the difference is in how the app is called."""
    return {
        "httpx.ASGITransport": await call_through_asgi_transport(),
        "TestClient": await asyncio.to_thread(call_through_test_client),
        "uvicorn": await call_through_uvicorn(),
    }
