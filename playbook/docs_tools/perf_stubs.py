"""`make perf-stubs`: stand-ins for the performance figures that were not measured here.

`docs/performance.md` includes the tables and plots `make perf-report` writes to
`docs/generated/perf/`. A fresh clone has none of them, and the strict build would fail on
the missing files. For each one missing, this writes a stand-in that says so and how to
measure; a file that a measurement wrote is never touched.
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from playbook.app.settings import PROJECT_ROOT

OUTPUT = PROJECT_ROOT / "docs" / "generated" / "perf"
TABLES = tuple(OUTPUT / name for name in ("bench.md", "breakdown.md", "memory.md", "load.md"))
PLOTS = tuple(OUTPUT / name for name in ("throughput.png", "breakdown.png", "memory.png", "latency.png"))
OUTPUT_FILES = frozenset({*TABLES, *PLOTS})
HOW_TO_MEASURE = "run `make bench`, `make load`, `make perf-report`"
TABLE_STUB = (
    f'!!! warning "Not measured yet"\n\n    To measure on the machine that builds this site: {HOW_TO_MEASURE}.\n'
)
PLOT_SIZE = (960, 160)


def write_plot_stub(path: Path) -> None:
    image = Image.new("RGB", PLOT_SIZE, "white")
    draw = ImageDraw.Draw(image)
    text = f"{path.stem}: not measured yet; {HOW_TO_MEASURE.replace('`', '')}"
    centre = (PLOT_SIZE[0] // 2, PLOT_SIZE[1] // 2)
    draw.text(centre, text, fill="dimgray", anchor="mm", font=ImageFont.load_default(size=22))
    image.save(path)


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    missing = sorted(path for path in OUTPUT_FILES if not path.exists())
    for path in missing:
        if path in TABLES:
            path.write_text(TABLE_STUB)
        else:
            write_plot_stub(path)
    written = ", ".join(path.name for path in missing) or "nothing"
    print(f"perf-stubs: {written} written to {OUTPUT.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
