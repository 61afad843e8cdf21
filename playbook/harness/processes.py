"""Apps and procrastinate workers as processes of their own, to kill, stop and start again.

What the crash tests, the fault scenarios of `make compare` and the scaling benchmark
run: `python -m playbook serve` and `python -m playbook worker` on a named database, with
settings passed as environment variables, each with its output in a log file. A process
is stopped when its block ends, however it ends.
"""

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from playbook.app.settings import Variant
from playbook.helpers import child_env, child_process, free_port, wait_until_serving

READY_TIMEOUT = 60.0


def process_env(database_url: URL, settings: Mapping[str, object], *, own_server: bool = False) -> dict[str, str]:
    """The environment of a child on the database of `database_url`, with `settings` ({name: value}) as variables.

    The child reaches the server the way this process does (`DATABASE_URL`, else the embedded
    server); with `own_server`, the one `database_url` names.
    """
    if database_url.database is None:
        raise ValueError(f"{database_url!r} names no database")
    env = child_env(DATABASE_NAME=database_url.database, **{name.upper(): value for name, value in settings.items()})
    if own_server:
        env["DATABASE_URL"] = database_url.set(database="postgres").render_as_string(hide_password=False)
    return env


@dataclass
class ServedApp:
    """`python -m playbook serve` as a process: restartable on the same port."""

    variant: Variant
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _stack: ExitStack = field(default_factory=ExitStack)
    _starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._starts += 1
        log_path = self.log_dir / f"app-{self.port}-{self._starts}.log"
        command = [sys.executable, "-m", "playbook", "serve", "--variant", self.variant, "--port", str(self.port)]
        self.process = self._stack.enter_context(child_process(command, env=self.env, log_path=log_path))
        wait_until_serving(self.process, f"{self.base_url}/health", log_path=log_path, timeout=READY_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is written."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def close(self) -> None:
        self._stack.close()


@contextmanager
def served_app(variant: Variant, *, env: Mapping[str, str], log_dir: Path) -> Iterator[ServedApp]:
    app = ServedApp(variant=variant, env=dict(env), log_dir=log_dir)
    try:
        app.start()
        yield app
    finally:
        app.close()


@contextmanager
def running_workers(count: int, *, env: Mapping[str, str], log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` processes of `python -m playbook worker`, started together, once each listens to the queue."""
    with ExitStack() as stack:
        started = [
            (
                log_dir / f"worker-{n}.log",
                stack.enter_context(_worker_process(env=env, log_path=log_dir / f"worker-{n}.log")),
            )
            for n in range(1, count + 1)
        ]
        for log_path, process in started:
            wait_for_line(process, log_path, "jobs at once; stop with SIGTERM")
        yield [process for _, process in started]


def _worker_process(*, env: Mapping[str, str], log_path: Path):  # type: ignore[no-untyped-def]
    return child_process([sys.executable, "-m", "playbook", "worker"], env=env, log_path=log_path)


def wait_for_line(
    process: subprocess.Popen[bytes], log_path: Path, text: str, *, timeout: float = READY_TIMEOUT
) -> None:
    """Until `text` appears in the process's log; fail early if it exits, late after `timeout`."""
    deadline = time.monotonic() + timeout
    while text not in log_path.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before logging {text!r}; see {log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"did not log {text!r} within {timeout:.0f} s; see {log_path}")
        time.sleep(0.1)
