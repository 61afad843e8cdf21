"""`make fuzz`: schemathesis against each variant's served OpenAPI schema.

For each variant: the app under uvicorn in a process of its own, on a fresh database, with
two API keys; then `st run` with every check (`--checks all`), every phase (examples,
coverage, fuzzing, and stateful sequences that follow the schema's links from a created
job to its reads), a fixed seed and `--examples` cases per operation, sending the first key.
Schemathesis also sends requests without a key, and with wrong ones, to see them refused.

Prints, per variant: the requests sent and their statuses, the server errors (5xx), the
undocumented statuses (`status_code_conformance` failures), the schema-valid requests
refused (positive cases turned away on their data, schemathesis's `valid_rates`), and
every other failure. Exits 1 unless those are all zero. Reports (JSON, NDJSON with every
request and answer) and the app's log are in `reports/fuzz/<variant>/`.

Does not guarantee: that the jobs the fuzzer starts succeed; they run against the upstream
simulator, and legacy's fail their catalogued ways in the background after the 202.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from playbook.app.settings import PROJECT_ROOT, VARIANTS, Variant, get_settings
from playbook.harness.databases import prepare_database
from playbook.harness.processes import process_env, served_app

REPORTS = PROJECT_ROOT / "reports" / "fuzz"
FUZZ_DATABASE = "playbook_fuzz"
API_KEYS = ("fuzz-key-0000000000000001", "fuzz-key-0000000000000002")
DEFAULT_SEED = 20261130
DEFAULT_EXAMPLES = 100
PHASES = "examples,coverage,fuzzing,stateful"
SCHEMATHESIS = Path(sys.executable).with_name("st")


@dataclass
class FuzzOutcome:
    variant: str
    seed: int
    requests: int
    statuses: dict[str, int]
    server_errors: int
    undocumented_statuses: int
    schema_valid_refused: int
    other_failures: dict[str, int] = field(default_factory=dict)
    exit_code: int = 0

    @property
    def clean(self) -> bool:
        return not (
            self.server_errors
            or self.undocumented_statuses
            or self.schema_valid_refused
            or self.other_failures
            or self.exit_code
        )


@contextmanager
def served_variant(variant: Variant, database_url: URL, out_dir: Path) -> Iterator[str]:
    """The variant under uvicorn in a child process, with the fuzzing API keys; yields its base URL."""
    # The fuzzer is one client sending as fast as it can; the rate limit has tests of its own.
    settings = {"api_keys": ",".join(API_KEYS), "rate_limit_per_second": 100_000, "rate_limit_burst": 100_000}
    with served_app(variant, env=process_env(database_url, settings, own_server=True), log_dir=out_dir) as app:
        yield app.base_url


def run_schemathesis(base_url: str, out_dir: Path, *, seed: int, examples: int, phases: str = PHASES) -> int:
    """`st run` against the served schema with every check; returns its exit code."""
    command = [
        str(SCHEMATHESIS), "run", f"{base_url}/openapi.json",
        "--checks", "all", "--phases", phases, "--seed", str(seed), "--max-examples", str(examples),
        "--header", f"X-API-Key: {API_KEYS[0]}", "--workers", "1", "--no-color",
        "--report", "json,ndjson", "--report-dir", str(out_dir),
        "--report-json-path", str(out_dir / "run.json"), "--report-ndjson-path", str(out_dir / "events.ndjson"),
    ]  # fmt: skip
    with (out_dir / "schemathesis.log").open("w") as log:
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, check=False).returncode


def summarize(variant: str, out_dir: Path, *, seed: int, exit_code: int) -> FuzzOutcome:
    """The figures of one run, from schemathesis's JSON report and its record of every request."""
    report = json.loads((out_dir / "run.json").read_text())
    statuses: Counter[str] = Counter()
    for line in (out_dir / "events.ndjson").read_text().splitlines():
        event = json.loads(line)
        for interaction in event.get("ScenarioFinished", {}).get("recorder", {}).get("interactions", {}).values():
            response = interaction.get("response")
            statuses[str(response["status_code"]) if response else "no answer"] += 1
    failures = Counter({failure["type"]: failure["count"] for failure in report["failures"]})
    refused = sum(rate["rejected"] for phases in report["valid_rates"].values() for rate in phases.values())
    return FuzzOutcome(
        variant=variant,
        seed=seed,
        requests=statuses.total(),
        statuses=dict(sorted(statuses.items())),
        server_errors=sum(count for status, count in statuses.items() if status.startswith("5")),
        # Failures are named by schemathesis's classes: UndefinedStatusCode is status_code_conformance,
        # RejectedPositiveData positive_data_acceptance (its cases are counted in `valid_rates` too).
        undocumented_statuses=failures.pop("UndefinedStatusCode", 0),
        schema_valid_refused=max(refused, failures.pop("RejectedPositiveData", 0)),
        other_failures={**failures, **{error["title"]: error["count"] for error in report["errors"]}},
        exit_code=exit_code,
    )


def render(outcomes: list[FuzzOutcome]) -> str:
    codes = sorted({status for outcome in outcomes for status in outcome.statuses})
    rows: list[tuple[str, Callable[[FuzzOutcome], object]]] = [
        ("requests sent", lambda outcome: outcome.requests),
        *((f"  answered {code}", lambda outcome, code=code: outcome.statuses.get(code, 0)) for code in codes),
        ("server errors (5xx)", lambda outcome: outcome.server_errors),
        ("undocumented statuses", lambda outcome: outcome.undocumented_statuses),
        ("schema-valid refused", lambda outcome: outcome.schema_valid_refused),
        ("other failures", lambda outcome: sum(outcome.other_failures.values())),
        ("seed", lambda outcome: outcome.seed),
    ]
    lines = [f"{'':<24}" + "".join(f"{outcome.variant:>14}" for outcome in outcomes)]
    lines += [f"{label:<24}" + "".join(f"{cell(outcome)!s:>14}" for outcome in outcomes) for label, cell in rows]
    lines += [
        f"  {outcome.variant}: {count} x {title}"
        for outcome in outcomes
        for title, count in outcome.other_failures.items()
    ]
    return "\n".join(lines)


def fuzz_variant(variant: Variant, database_url: URL, *, seed: int, examples: int) -> FuzzOutcome:
    out_dir = REPORTS / variant
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"  {variant}: schemathesis, seed {seed}, {examples} examples per operation ...", file=sys.stderr)
    with served_variant(variant, database_url, out_dir) as base_url:
        exit_code = run_schemathesis(base_url, out_dir, seed=seed, examples=examples)
    return summarize(variant, out_dir, seed=seed, exit_code=exit_code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playbook.harness.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", DEFAULT_SEED)))
    parser.add_argument(
        "--examples",
        type=int,
        default=int(os.environ.get("FUZZ_EXAMPLES", DEFAULT_EXAMPLES)),
        help="cases per operation and phase (FUZZ_EXAMPLES)",
    )
    parser.add_argument("--variant", choices=VARIANTS, action="append", help="only this variant (repeatable)")
    args = parser.parse_args(argv)
    shutil.rmtree(REPORTS, ignore_errors=True)
    database_url = asyncio.run(prepare_database(get_settings(), FUZZ_DATABASE, replace=True))
    outcomes = [
        fuzz_variant(variant, database_url, seed=args.seed, examples=args.examples)
        for variant in args.variant or VARIANTS
    ]
    print(render(outcomes))
    (REPORTS / "summary.json").write_text(json.dumps([asdict(outcome) for outcome in outcomes], indent=2) + "\n")
    print(f"wrote {(REPORTS / 'summary.json').relative_to(PROJECT_ROOT)}; every request in reports/fuzz/<variant>/")
    return 0 if all(outcome.clean for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
