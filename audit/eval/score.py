"""Score the audit on real code: the findings on each public repository of `manifest.json`,
against verdicts given by reading that code.

Each repository is read from `.audit-eval/<owner>__<name>/` (the pinned commit, extracted
there; never committed). A verdict row says whether there is a real problem at a place:
`correct` (a finding that is right), `wrong` (a finding that is not) or `missed` (a problem
found by reading the code that the audit did not report when it was judged). A finding
matches a row by repository, path, line and rule. Prints, per rule and for errors and all
findings: true positives, false positives, misses, precision and recall; then every
finding that no row judges, and every row whose verdict the audit has since changed.

Repositories whose sources are absent are skipped, and one line says so.
"""

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from background_task_audit import audit_paths
from background_task_audit.config import Config
from background_task_audit.findings import Finding

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MANIFEST = HERE / "manifest.json"
SOURCES = ROOT / ".audit-eval"
PROBLEMS = {"correct", "missed"}
VERDICTS = PROBLEMS | {"wrong"}


@dataclass(frozen=True)
class Row:
    repository: str
    commit: str
    path: str
    line: int
    rule: str
    verdict: str
    reason: str

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.repository, self.path, self.line, self.rule)


@dataclass(frozen=True)
class Seen:
    repository: str
    finding: Finding
    path: str

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.repository, self.path, self.finding.location.line, self.finding.rule_id)


def folder(repository: str) -> Path:
    return SOURCES / repository.replace("/", "__")


def load(manifest: Path) -> tuple[list[dict[str, str]], list[Row]]:
    document = json.loads(manifest.read_text(encoding="utf-8"))
    commits = {repo["repository"]: repo["commit"] for repo in document["repositories"]}
    rows = [Row(**row) for row in document["verdicts"]]
    for row in rows:
        if row.verdict not in VERDICTS:
            raise SystemExit(f"{manifest}: {row.repository} {row.path}:{row.line}: unknown verdict {row.verdict!r}")
        if commits.get(row.repository) != row.commit:
            raise SystemExit(f"{manifest}: {row.repository} {row.path}:{row.line}: commit is not the pinned one")
    return document["repositories"], rows


def audit(repository: str) -> tuple[list[Seen], float]:
    base = folder(repository)
    started = time.perf_counter()
    report = audit_paths([base], base=base, config=Config())
    elapsed = time.perf_counter() - started
    return [Seen(repository, finding, finding.location.path) for finding in report.findings], elapsed


def table(seen: list[Seen], rows: list[Row], repositories: set[str]) -> list[str]:
    judged = {row.key: row for row in rows if row.repository in repositories}
    found = {item.key: item for item in seen}
    rules = sorted(
        {key[3] for key in [*judged, *found]}, key=lambda rule: (rule[0], int(rule[1:]) if rule[1:].isdigit() else 0)
    )
    lines = [f"{'rule':<8}{'found':>6}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"]

    def line(label: str, keys: set[tuple[str, str, int, str]], problems: set[tuple[str, str, int, str]]) -> str:
        true = len(keys & problems)
        false = len([key for key in keys if key in judged and key not in problems])
        missed = len(problems - keys)
        precision = f"{true / (true + false):.2f}" if true + false else "-"
        recall = f"{true / (true + missed):.2f}" if true + missed else "-"
        return f"{label:<8}{len(keys):>6}{true:>5}{false:>5}{missed:>5}{precision:>11}{recall:>8}"

    problems = {key for key, row in judged.items() if row.verdict in PROBLEMS}
    for rule in rules:
        keys = {key for key in found if key[3] == rule}
        lines.append(line(rule, keys, {key for key in problems if key[3] == rule}))
    errors = {key for key, item in found.items() if item.finding.severity.value == "error"}
    lines.append(line("errors", errors, problems & errors).rsplit(" ", 1)[0] + f"{'-':>1}")
    lines.append(line("all", set(found), problems))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--unjudged", action="store_true", help="list every finding no verdict covers")
    args = parser.parse_args(argv)
    repositories, rows = load(args.manifest)
    present = [repo for repo in repositories if folder(repo["repository"]).is_dir()]
    absent = [repo["repository"] for repo in repositories if repo not in present]
    if not present:
        print(f"audit-eval: skipped, no sources in {SOURCES.relative_to(ROOT)}/ (see audit/eval/README.md)")
        return 0
    if absent:
        print(f"audit-eval: skipped {len(absent)} repositories without sources: {', '.join(absent)}")
    seen: list[Seen] = []
    for repo in present:
        reported, elapsed = audit(repo["repository"])
        seen += reported
        errors = Counter(item.finding.severity.value for item in reported)["error"]
        print(
            f"{repo['repository']} @ {repo['commit'][:12]}: {len(reported)} findings ({errors} errors), {elapsed:.1f} s"
        )
    names = {repo["repository"] for repo in present}
    print()
    print("\n".join(table(seen, rows, names)))
    judged = {row.key: row for row in rows}
    unjudged = [item for item in seen if item.key not in judged]
    found = {item.key for item in seen}
    # A problem judged found that is no longer found, or one judged missed that now is: worth a look.
    stale = [
        row
        for row in rows
        if row.repository in names and row.verdict != "wrong" and (row.key in found) != (row.verdict == "correct")
    ]
    print(f"\nunjudged findings: {len(unjudged)}; verdicts changed since judged: {len(stale)}")
    if args.unjudged:
        for item in unjudged:
            finding = item.finding
            place = f"{item.repository} {item.path}:{finding.location.line}"
            print(f"  {place} {finding.rule_id} {finding.check.name}: {finding.message}")
        for row in stale:
            print(f"  changed: {row.repository} {row.path}:{row.line} {row.rule} was {row.verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
