"""The scaling figures from a pytest-benchmark JSON file: `python -m benchmarks.scaling FILE`.

Items per second of the one batch on each number of workers (`test_scaling_bench.py`),
the speed-up over one worker, and the peak connections to the database during the run,
all workers' pools and the sampler's own included; then the target: 4 workers at least
3.2 times the throughput of 1.
"""

import json
import sys
from pathlib import Path

from benchmarks.test_scaling_bench import PART_SIZE, SERVICE

TARGET = 3.2


def main(path: Path) -> int:
    runs = {
        bench["extra_info"]["variant"]: bench
        for bench in json.loads(path.read_text())["benchmarks"]
        if bench["extra_info"].get("service") == SERVICE
    }
    if not runs:
        print(f"{SERVICE}: no results in {path}")
        return 0
    throughput = {variant: bench["extra_info"]["items"] / bench["stats"]["mean"] for variant, bench in runs.items()}
    one = throughput.get("1 worker(s)")
    print(f"{SERVICE} ({next(iter(runs.values()))['extra_info']['items']} items)")
    print(f"  {'workers':<12}{'seconds':>9}{'items/s':>9}{'speed-up':>10}{'conns':>7}")
    for variant, bench in runs.items():
        speedup = f"{throughput[variant] / one:.2f}x" if one else "-"
        print(
            f"  {variant:<12}{bench['stats']['mean']:>9.2f}{throughput[variant]:>9.1f}{speedup:>10}"
            f"{bench['extra_info']['connections']:>7}"
        )
    four = throughput.get("4 worker(s)")
    items = next(iter(runs.values()))["extra_info"]["items"]
    if items < 4 * PART_SIZE:
        print(f"4 workers/1 worker: not judged, {items} items are fewer than 4 parts of {PART_SIZE}")
    elif one and four:
        verdict = "met" if four / one >= TARGET else "NOT met"
        print(f"4 workers/1 worker: {four / one:.2f}x (target >= {TARGET}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
