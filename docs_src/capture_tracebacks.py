"""`make tracebacks`: the legacy batch failing for real, written where the docs include it.

Serves the legacy app with real uvicorn on a database of its own, submits a batch, waits
for its background task and writes what production would have shown:

- `docs/generated/tracebacks/F2.txt`: the exception uvicorn logged, with runs of frames
  inside installed packages collapsed to one line; the last frame and the exception line
  are kept as Python prints them.
- `docs/generated/tracebacks/F2-http.txt`: the 202 the client got, and the job read back
  after the task had died.
"""

import asyncio
import json
import sys
import sysconfig
import traceback
from pathlib import Path

import httpx

from playbook.app import create_app
from playbook.database import prepare_database
from playbook.server import serve_in_process
from playbook.settings import PROJECT_ROOT, get_settings

OUTPUT = PROJECT_ROOT / "docs" / "generated" / "tracebacks"
TRACEBACK = OUTPUT / "F2.txt"
EXCHANGE = OUTPUT / "F2-http.txt"
BATCH = {"items": ["alpha.test", "beta.test", "gamma.test"]}
INSTALLED = (Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["stdlib"]))


def _installed_package(filename: str) -> str | None:
    """The top-level package an installed file belongs to, or None for the project's own files."""
    path = Path(filename)
    for root in INSTALLED:
        if path.is_relative_to(root):
            return path.relative_to(root).parts[0].removesuffix(".py")
    return None


def _shown_path(filename: str) -> str:
    path = Path(filename)
    for root in (*INSTALLED, PROJECT_ROOT):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return filename


def _collapsed(packages: list[str]) -> str:
    names = ", ".join(dict.fromkeys(packages))
    return f"  [... {len(packages)} frames in {names} ...]"


def format_trimmed(exc: BaseException) -> str:
    """The traceback as Python prints it, with runs of installed-package frames collapsed."""
    frames = traceback.extract_tb(exc.__traceback__)
    lines = ["Traceback (most recent call last):"]
    hidden: list[str] = []
    for position, frame in enumerate(frames, start=1):
        package = _installed_package(frame.filename)
        if package is not None and position < len(frames):
            hidden.append(package)
            continue
        if hidden:
            lines.append(_collapsed(hidden))
            hidden = []
        lines.append(f'  File "{_shown_path(frame.filename)}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(exc))
    return "\n".join(lines) + "\n"


def format_exchange(request: httpx.Request, response: httpx.Response) -> str:
    body = json.loads(request.content) if request.content else None
    return "\n".join(
        [
            f"{request.method} {request.url.path}" + (f" {json.dumps(body)}" if body else ""),
            f"HTTP {response.status_code} {response.reason_phrase}",
            json.dumps(response.json(), indent=2),
        ]
    )


async def capture() -> None:
    settings = get_settings()
    url = await prepare_database(settings, f"{settings.database_name}_tracebacks", replace=True)
    async with serve_in_process(create_app("legacy", database_url=url, settings=settings)) as app:
        accepted = await app.client.post("/api/v3/batches", json=BATCH)
        await app.wait_idle()
        job = await app.client.get(f"/api/v3/jobs/{accepted.json()['id']}")
        escaped = list(app.escaped_exceptions)
    if len(escaped) != 1:
        sys.exit(f"expected the legacy batch to fail with one escaped exception, got {len(escaped)}: {escaped!r}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    TRACEBACK.write_text(format_trimmed(escaped[0]))
    exchanges = [format_exchange(accepted.request, accepted), format_exchange(job.request, job)]
    EXCHANGE.write_text("\n\n".join(exchanges) + "\n")
    print(f"wrote {TRACEBACK.relative_to(PROJECT_ROOT)} and {EXCHANGE.name}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(capture())
