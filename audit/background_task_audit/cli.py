"""The command line of the audit: `background-task-audit PATH...` (also `python -m playbook audit`).

Exit status: 0 when no finding reaches `--fail-on`, 1 when one does (or, with
`--fail-on-unread`, when a file could not be read or parsed), 2 for usage errors
(argparse's own status, also used for a path that does not exist or a configuration
that cannot be used). A scan that takes more than a second tells how far it is on
stderr, once a second, unless `--quiet`.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from background_task_audit.config import ConfigError, find_config, load_config
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
    parser.add_argument(
        "--fail-on-unread",
        action="store_true",
        help="exit 1 when a file could not be read or parsed too (by default it is only a note)",
    )
    parser.add_argument(
        "--select", type=_names, default=[], metavar="RULES", help="report only these rules or checks (comma-separated)"
    )
    parser.add_argument(
        "--ignore",
        type=_names,
        default=[],
        metavar="RULES",
        help="never report these rules or checks (comma-separated)",
    )
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="leave out matching paths (repeatable)"
    )
    parser.add_argument("--include-tests", action="store_true", help="scan tests too (left out by default)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PYPROJECT",
        help="read [tool.background-task-audit] from this file (default: the nearest pyproject.toml above PATH)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    try:
        found = load_config(args.config) if args.config is not None else find_config(args.paths)
    except ConfigError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    config = found.merged(
        select=args.select, ignore=args.ignore, exclude=args.exclude, include_tests=args.include_tests
    )
    progress = None if args.quiet else ProgressLine(sys.stderr)
    report = audit_paths(args.paths, base=Path.cwd(), config=config, progress=progress)
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
    fails = report.fails(threshold=_threshold(args.fail_on))
    return 1 if fails or (args.fail_on_unread and report.unread_files) else 0


class ProgressLine:
    """Prints how far the audit is, once a second, after the first second."""

    def __init__(self, stream: TextIO, *, delay: float = 1.0) -> None:
        self._stream = stream
        self._delay = delay
        self._started = time.monotonic()
        self._last = self._started

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._started < self._delay or (now - self._last < self._delay and done != total):
            return
        self._last = now
        print(f"audit: {stage} {done}/{total} ({now - self._started:.1f} s)", file=self._stream, flush=True)


def _threshold(fail_on: str) -> Severity | None:
    return None if fail_on == "never" else Severity(fail_on)


def _existing_path(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {value}")
    return path


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
