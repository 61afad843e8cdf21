"""Small helpers the harness, the benchmarks and the tests share: loopback ports and
child processes that are always stopped."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from playbook.app.settings import PROJECT_ROOT


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1, for a server to take over."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a child process to bind."""
    with loopback_socket() as probe:
        port: int = probe.getsockname()[1]
        return port


def child_env(**overrides: object) -> dict[str, str]:
    """This process's environment, unbuffered output, and `overrides` as strings."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **{name: str(value) for name, value in overrides.items()}}


@contextmanager
def child_process(
    command: list[str], *, env: Mapping[str, str], log_path: Path, shutdown_timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` with its output in `log_path`; stop it when the block ends, however it ends."""
    with log_path.open("w") as log:
        # A session of its own: Ctrl-C reaches this process only, which stops the children in order.
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop_process(process, timeout=shutdown_timeout)


def stop_process(process: subprocess.Popen[bytes], *, timeout: float) -> bool:
    """SIGTERM (uvicorn and locust shut down gracefully on it), SIGKILL after `timeout` seconds.
    Return whether it ended without SIGKILL."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False


def wait_until_serving(
    process: subprocess.Popen[bytes],
    url: str,
    *,
    log_path: Path,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Poll `url` until it answers 200; fail early if `process` exits, late after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(url, headers=headers, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not serving after {timeout:.0f} s; see {log_path}")


def counted(counts: Mapping[str, int]) -> str:
    """`{"completed": 2, "pending": 1}` as "2 completed, 1 pending"."""
    return ", ".join(f"{count} {name}" for name, count in counts.items())
