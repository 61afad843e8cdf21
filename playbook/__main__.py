"""Command line behind the Makefile: `python -m playbook {compare,serve,simulator,db-stop,audit}`."""

import argparse
import asyncio
import sys

from background_task_audit.cli import add_arguments as add_audit_arguments
from background_task_audit.cli import run as run_audit
from playbook.app.settings import VARIANTS, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playbook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("compare", help="run every scenario on both variants and print the table")
    serve = commands.add_parser("serve", help="serve one variant under uvicorn on 127.0.0.1")
    serve.add_argument("--variant", choices=VARIANTS, default="standardized")
    serve.add_argument("--port", type=int, default=8000)
    simulator = commands.add_parser("simulator", help="serve the upstream simulator on 127.0.0.1 (load tests)")
    simulator.add_argument("--port", type=int, default=8100)
    commands.add_parser("db-stop", help="stop an embedded PostgreSQL left running")
    add_audit_arguments(commands.add_parser("audit", help="scan Python code for background-task anti-patterns"))
    args = parser.parse_args(argv)
    if args.command == "audit":
        return run_audit(args)
    settings = get_settings()

    if args.command == "compare":
        from playbook.harness.compare import compare

        return asyncio.run(compare(settings))
    if args.command == "serve":
        import uvicorn

        from playbook.app.factory import create_app
        from playbook.harness.databases import prepare_database

        url = asyncio.run(prepare_database(settings, settings.database_name, replace=False))
        print(f"serving {args.variant} on http://127.0.0.1:{args.port} (docs at /docs)", file=sys.stderr)
        uvicorn.run(create_app(args.variant, database_url=url, settings=settings), host="127.0.0.1", port=args.port)
        return 0
    if args.command == "simulator":
        import uvicorn

        from playbook.harness.simulator.app import UpstreamSimulator

        print(
            f"upstream simulator on http://127.0.0.1:{args.port}, {settings.upstream_latency_ms} ms latency",
            file=sys.stderr,
        )
        # No access log: under load the simulator answers far more requests than anyone reads.
        uvicorn.run(
            UpstreamSimulator(latency_ms=settings.upstream_latency_ms),
            host="127.0.0.1",
            port=args.port,
            access_log=False,
        )
        return 0
    from playbook.harness.embedded import stop_embedded_server

    stopped = stop_embedded_server(settings.pgdata)
    print(f"embedded PostgreSQL in {settings.pgdata}: {'stopped' if stopped else 'not running'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
