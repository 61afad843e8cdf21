"""`python -m playbook audit PATH...`: the command line of the audit.

Exit status: 0 when no finding reaches `--fail-on`, 1 when one does, 2 for usage
errors (argparse's own status, also used for a path that does not exist).
"""

import argparse
import sys
from pathlib import Path

from background_task_audit.formats import FORMATS
from background_task_audit.formats.text import summary_line
from background_task_audit.rules import Severity
from background_task_audit.runner import audit_paths

FAIL_ON = [*(severity.value for severity in Severity), "never"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", type=_existing_path, metavar="PATH", help="files or folders (walked recursively)"
    )
    parser.add_argument("--format", choices=sorted(FORMATS), default="text", help="report format (default: text)")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument(
        "--help-uri-base",
        default="",
        metavar="URL",
        help="make the rules' help links absolute against URL (e.g. the repository's blob URL)",
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="exit 1 when a finding has this severity or a higher one (default: error)",
    )


def run(args: argparse.Namespace) -> int:
    report = audit_paths(args.paths, base=Path.cwd())
    rendered = FORMATS[args.format](report, help_uri_base=args.help_uri_base)
    if args.output is None:
        sys.stdout.write(rendered)
    else:
        try:
            args.output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            print(f"audit: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
        print(summary_line(report))
    return 1 if report.fails(threshold=_threshold(args.fail_on)) else 0


def _threshold(fail_on: str) -> Severity | None:
    return None if fail_on == "never" else Severity(fail_on)


def _existing_path(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {value}")
    return path
