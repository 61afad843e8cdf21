"""`python -m background_task_audit PATH...`: the audit alone, on the standard library only.

Same options as `python -m playbook audit`; this entry point imports nothing from the
rest of the harness, so it runs from a bare checkout (pre-commit, CI).
"""

import argparse
import sys

from background_task_audit.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="background-task-audit", description="Scan for background-task anti-patterns."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
