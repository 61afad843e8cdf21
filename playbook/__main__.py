"""Command line behind the Makefile: `python -m playbook {compare,serve,worker,simulator,db-stop,db-reset,audit}`.

Each subcommand is registered with its handler in one place, so a subcommand cannot exist
without the code that runs it.
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

from starlette.types import ASGIApp

from playbook.app.settings import VARIANTS, get_settings

Handler = Callable[[argparse.Namespace], int]


def run_compare(_args: argparse.Namespace) -> int:
    from playbook.harness.compare import compare

    return asyncio.run(compare(get_settings()))


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from playbook.app.auth import OpenModeExposed, check_listen_address
    from playbook.app.database import OutdatedSchema
    from playbook.app.factory import create_app
    from playbook.harness.databases import prepare_database

    settings = get_settings()
    try:
        check_listen_address(args.host, settings)
        url = asyncio.run(prepare_database(settings, settings.database_name, replace=False))
    except (OpenModeExposed, OutdatedSchema) as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    _log_to_stderr()
    app: ASGIApp = create_app(args.variant, database_url=url, settings=settings)
    if os.environ.get("LOOP_STEPS") == "1":
        from playbook.harness.loop_steps import record_loop_steps, reported_at_shutdown

        app = reported_at_shutdown(app, record_loop_steps())
    print(
        f"serving {args.variant} on http://{args.host}:{args.port} (docs at /docs);"
        f" upstream: {settings.upstream} (UPSTREAM); jobs run by {settings.executor} (EXECUTOR)",
        file=sys.stderr,
    )
    # uvicorn raises the SIGTERM it caught again once the app has shut down. Exiting through
    # SystemExit rather than the signal's default action runs the exit handlers, and so stops
    # an embedded server that no other process uses.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(app, host=args.host, port=args.port)
    return 0


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_worker(_args: argparse.Namespace) -> int:
    from playbook.app.database import OutdatedSchema
    from playbook.harness.databases import prepare_database
    from standardized.worker import run_worker

    settings = get_settings()
    try:
        url = asyncio.run(prepare_database(settings, settings.database_name, replace=False))
    except OutdatedSchema as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    _log_to_stderr()
    print(
        f"procrastinate worker on database {url.database}, {settings.worker_concurrency} jobs at once", file=sys.stderr
    )
    asyncio.run(run_worker(url, settings))
    return 0


def _log_to_stderr() -> None:
    # What the services, the recovery sweep and the workers log: jobs taken over, retried, given up.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # procrastinate logs every run of the 2-second stalled-jobs sweep at INFO, httpx every request.
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run_simulator(args: argparse.Namespace) -> int:
    import uvicorn

    from playbook.harness.simulator.app import UpstreamSimulator

    latency_ms = get_settings().upstream_latency_ms
    print(f"upstream simulator on http://127.0.0.1:{args.port}, {latency_ms} ms latency", file=sys.stderr)
    # No access log: under load the simulator answers far more requests than anyone reads.
    uvicorn.run(UpstreamSimulator(latency_ms=latency_ms), host="127.0.0.1", port=args.port, access_log=False)
    return 0


def run_db_stop(_args: argparse.Namespace) -> int:
    from playbook.harness.embedded import stop_embedded_server

    pgdata = get_settings().pgdata
    stopped = stop_embedded_server(pgdata)
    print(f"embedded PostgreSQL in {pgdata}: {'stopped' if stopped else 'not running'}")
    return 0


def run_db_reset(_args: argparse.Namespace) -> int:
    from playbook.harness.databases import drop_database, resolve_server_url

    settings = get_settings()
    asyncio.run(drop_database(resolve_server_url(settings), settings.database_name))
    print(f"dropped database {settings.database_name!r}; `make serve` creates it again")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playbook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        subparser = commands.add_parser(name, help=help_text)
        subparser.set_defaults(handler=handler)
        return subparser

    command("compare", run_compare, "run every scenario on both variants and print the table")
    serve_parser = command("serve", run_serve, "serve one variant under uvicorn (127.0.0.1 unless --host)")
    serve_parser.add_argument("--variant", choices=VARIANTS, default="standardized")
    serve_parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; only loopback without API_KEYS"
    )
    serve_parser.add_argument("--port", type=int, default=8000)
    command("worker", run_worker, "run a procrastinate worker for the standardized jobs (EXECUTOR=procrastinate)")
    simulator_parser = command("simulator", run_simulator, "serve the upstream simulator on 127.0.0.1 (load tests)")
    simulator_parser.add_argument("--port", type=int, default=8100)
    command("db-stop", run_db_stop, "stop an embedded PostgreSQL left running")
    command("db-reset", run_db_reset, "drop the database `serve` uses (DATABASE_NAME); its jobs are lost")
    _add_audit_command(command)
    return parser


def _add_audit_command(command: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    # The audit is a package of its own (`audit/`): `pip install .` alone does not bring it.
    try:
        from background_task_audit.cli import add_arguments, run
    except ModuleNotFoundError:
        missing = command("audit", _audit_not_installed, "scan Python code for background-task anti-patterns")
        missing.add_argument("arguments", nargs=argparse.REMAINDER)
        return
    add_arguments(command("audit", run, "scan Python code for background-task anti-patterns"))


def _audit_not_installed(_args: argparse.Namespace) -> int:
    print("audit: the background_task_audit package is not installed; pip install ./audit", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
