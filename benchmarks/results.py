"""One `make bench` run's results as written to and read back from JSON (reports/bench/results.json)."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.breakdown import Breakdown
from benchmarks.memory import MemoryRun
from benchmarks.paired import ComparisonResult, VariantTimes
from benchmarks.plan import LeftOut
from playbook.app.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "reports" / "bench" / "results.json"


@dataclass
class BenchResults:
    started: str  # ISO 8601, UTC
    seconds: float  # the whole run
    cores: int
    load_average: tuple[float, float]  # 1-minute load average at the start and at the end
    plan: dict[str, Any]
    comparisons: list[ComparisonResult]
    left_out: list[LeftOut]
    breakdown: list[Breakdown] = field(default_factory=list)
    memory: list[MemoryRun] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "BenchResults":
        data = json.loads(path.read_text())
        return cls(
            **{
                **data,
                "load_average": tuple(data["load_average"]),
                "comparisons": [_comparison(fields) for fields in data["comparisons"]],
                "left_out": [LeftOut(**fields) for fields in data["left_out"]],
                "breakdown": [Breakdown(**fields) for fields in data["breakdown"]],
                "memory": [
                    MemoryRun(**{**fields, "samples": [tuple(sample) for sample in fields["samples"]]})
                    for fields in data["memory"]
                ],
            }
        )


def _comparison(fields: dict[str, Any]) -> ComparisonResult:
    variants = {name: VariantTimes(**times) for name, times in fields["variants"].items()}
    return ComparisonResult(**{**fields, "variants": variants})
