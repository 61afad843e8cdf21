"""A short schemathesis run against each variant's served schema, with a fixed seed.

The same run as `make fuzz` (`playbook.harness.fuzz`: every check, sequences that follow
the schema's links, the app under uvicorn in a process of its own, with API keys), with
few examples per operation and without the slower coverage phase, so it fits in `make test`.
"""

from pathlib import Path

from sqlalchemy.engine import URL

from playbook.app.settings import Variant
from playbook.harness.fuzz import run_schemathesis, served_variant, summarize

SEED = 7
EXAMPLES = 6


def test_a_short_schemathesis_run_finds_nothing(variant: Variant, database_url: URL, tmp_path: Path) -> None:
    with served_variant(variant, database_url, tmp_path) as base_url:
        exit_code = run_schemathesis(
            base_url, tmp_path, seed=SEED, examples=EXAMPLES, phases="examples,fuzzing,stateful"
        )
    outcome = summarize(variant, tmp_path, seed=SEED, exit_code=exit_code)
    log = (tmp_path / "schemathesis.log").read_text()

    assert outcome.requests >= 80, log
    assert (outcome.server_errors, outcome.undocumented_statuses, outcome.schema_valid_refused) == (0, 0, 0), log
    assert (outcome.other_failures, outcome.exit_code) == ({}, 0), log
