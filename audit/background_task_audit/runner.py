"""One audit: read the files, find the entry points, walk them, judge, and report.

The code that starts background work is walked first, to learn what it hands over; then
every entry point is walked with those values, then judged as a whole; then every other
async function of the scanned files is walked on its own, since a session held across a
network call or shared by concurrent coroutines is wrong outside tasks too (only less
severe); and the modules are judged for engines. Suppressions and the configuration's
`select` and `ignore` are applied last.
"""

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from background_task_audit.checks import (
    EntryContext,
    Verdict,
    judge_dropped_tasks,
    judge_engines,
    judge_entry,
    judge_event,
)
from background_task_audit.config import Config, find_config
from background_task_audit.entrypoints import DiscoveredEntry, Discovery, EntryPointFinder
from background_task_audit.events import FlowEvent, TaskHandoff
from background_task_audit.findings import AuditReport, EntryPoint, FileNote, Finding, Location
from background_task_audit.flow import Analysis
from background_task_audit.kinds import Types
from background_task_audit.orm import ModelCatalog
from background_task_audit.project import Project
from background_task_audit.sessions import SessionFactories
from background_task_audit.sources import FileFilter, SourceModule, UnreadableFile, python_files, read_file
from background_task_audit.summaries import Summaries
from background_task_audit.suppression import apply_suppressions
from background_task_audit.syntax import Walker
from background_task_audit.values import Value

# Rounds of entry walks: a task that starts another hands it values found only in its own walk.
ENTRY_ROUNDS = 3

Progress = Callable[[str, int, int], None]


def audit_paths(
    paths: Sequence[Path], *, base: Path, config: Config | None = None, progress: Progress | None = None
) -> AuditReport:
    """Audit every Python file under `paths`; locations are shown relative to `base`.

    Without `config`, the settings come from the nearest pyproject.toml above the paths.
    `progress(stage, done, total)` is told how far the audit is, for long scans.
    """
    settings = config if config is not None else find_config(paths)
    report = _nothing_reported if progress is None else progress
    with _without_cyclic_gc():
        file_filter = FileFilter(exclude=settings.exclude, include_tests=settings.include_tests, root=settings.root)
        files = python_files(paths, file_filter)
        named = {path.resolve() for path in paths if path.is_file()}
        read = [read_file(path, base=base) for path in files]
        modules = [item for item in read if isinstance(item, SourceModule)]
        analysed = [module for module in modules if module.relevant or module.path.resolve() in named]
        for done, module in enumerate(analysed, start=1):
            _ = module.tree
            if done % 50 == 0 or done == len(analysed):
                report("parsed", done, len(analysed))
        project = Project(modules, base=base, analysed=[module for module in analysed if module.problem is None])
        auditor = _Auditor(project, settings, report)
        found = [
            finding
            for finding in apply_suppressions(auditor.run(), modules)
            if settings.reports(rule_id=finding.rule_id, check_name=finding.check.name)
        ]
        unreadable = [
            FileNote(path=item.display_path, message=item.reason, unread=True)
            for item in read
            if isinstance(item, UnreadableFile)
        ]
        unparsed = [
            FileNote(path=m.display_path, message=m.problem, unread=True) for m in modules if m.problem is not None
        ]
        return AuditReport(
            files_scanned=len(read),
            entry_points=[_entry_point(entry) for entry in auditor.entries],
            findings=sorted(found, key=lambda finding: finding.sort_key),
            notes=unreadable + unparsed + auditor.notes(),
        )


def _nothing_reported(stage: str, done: int, total: int) -> None:
    return None


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Syntax trees hold no cycles; the cyclic collector would only walk them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Auditor:
    def __init__(self, project: Project, config: Config, progress: Progress) -> None:
        self._project = project
        self._progress = progress
        self._walker = Walker()
        self._models = ModelCatalog(project)
        self._types = Types(
            project, self._models, session_types=config.session_types, session_factories=config.session_factories
        )
        self._factories = SessionFactories(project, self._types, self._walker)
        self._summaries = Summaries(project, self._factories, self._walker)
        self._discovery: Discovery = EntryPointFinder(project, self._summaries, self._types, self._walker).find()
        self.entries = _uniquely_named(self._discovery.entries)
        sites = dict((id(site.call), (site, function)) for site, function in self._discovery.sites())
        self._site_entries = {id(site.call): entry.name for entry in self.entries for site in entry.sites}
        self._analysis = Analysis(
            project=project,
            types=self._types,
            factories=self._factories,
            summaries=self._summaries,
            models=self._models,
            walker=self._walker,
            sites=sites,
            emit=self._on_event,
        )
        self._findings: dict[tuple[Location, str], Finding] = {}

    def run(self) -> list[Finding]:
        started = time.monotonic()
        self._walk_starters()
        self._walk_entries()
        for entry in self.entries:
            self._add(judge_dropped_tasks(entry.sites), entry_point=entry.name)
            self._add(judge_entry(self._context(entry)), entry_point=entry.name)
        self._add(judge_dropped_tasks(unresolved.site for unresolved in self._discovery.unresolved), entry_point=None)
        self._walk_the_rest(started)
        self._add(judge_engines(self._project, self._factories, self._summaries, self._walker), entry_point=None)
        return list(self._findings.values())

    def notes(self) -> list[FileNote]:
        """What the analysis could not follow: its findings may be incomplete there."""
        unfinished = dict.fromkeys(self._analysis.too_deep)
        deep = [
            FileNote(
                path=function.module.display_path, message=f"`{function.qualname}` is nested too deeply to analyse"
            )
            for function in unfinished
        ]
        unresolved = [
            FileNote(
                path=item.site.module.display_path,
                line=item.site.call.lineno,
                message=(
                    f"the task `{item.site.target_label}` started here ({item.site.kind}) is not analysed: "
                    f"{item.reason}"
                ),
            )
            for item in self._discovery.unresolved
            if not item.outside
        ]
        return deep + unresolved

    def _walk_starters(self) -> None:
        """The functions that start tasks, walked on their own, so that what they hand over is known."""
        starters = dict.fromkeys(site.enclosing for site, _ in self._discovery.sites())
        for function in starters:
            self._analysis.walk(function, entry=None, in_task=False)

    def _walk_entries(self) -> None:
        walked: set[tuple[int, int]] = set()
        for _ in range(ENTRY_ROUNDS):
            fresh = False
            for done, entry in enumerate(self.entries, start=1):
                starts = self._starts(entry)
                key = (id(entry.function.node), len(starts))
                if key in walked:
                    continue
                walked.add(key)
                fresh = True
                for arguments, closure in starts:
                    self._analysis.walk(
                        entry.function, entry=entry.name, in_task=True, arguments=arguments, closure=closure
                    )
                if done % 25 == 0:
                    self._progress("entry points", done, len(self.entries))
            if not fresh:
                return

    def _walk_the_rest(self, started: float) -> None:
        """Every other async function, on its own: R2, R3 and R4 hold outside tasks too."""
        entries = {entry.function.node for entry in self.entries}
        functions = [
            function
            for module in self._project.analysed
            for function in self._project.functions(module)
            if function.is_async and function.node not in entries
        ]
        for done, function in enumerate(functions, start=1):
            if self._analysis.touches_sessions(function) and not self._analysis.walked_alone(function):
                self._analysis.walk(function, entry=None, in_task=False)
            if done % 200 == 0 or done == len(functions):
                self._progress("functions", done, len(functions))

    def _starts(self, entry: DiscoveredEntry) -> list[tuple[dict[str, Value], dict[str, Value]]]:
        handed = [start for site in entry.sites for start in self._analysis.site_arguments.get(id(site.call), [])]
        unique = list({(frozenset(a.items()), frozenset(c.items())): (a, c) for a, c in handed}.values())
        return unique or [({}, {})]

    def _context(self, entry: DiscoveredEntry) -> EntryContext:
        return EntryContext(
            entry=entry,
            function=entry.function,
            arguments=tuple(arguments for arguments, _ in self._starts(entry)),
            reached=tuple(self._analysis.reached[entry.name]),
            project=self._project,
            factories=self._factories,
            models=self._models,
            summaries=self._summaries,
            types=self._types,
            walker=self._walker,
            touches_sessions=self._analysis.touches_sessions,
        )

    def _on_event(self, event: FlowEvent) -> None:
        entry = event.entry
        if isinstance(event, TaskHandoff):
            entry = self._site_entries.get(id(event.site.call), entry)
        self._add(judge_event(event), entry_point=entry)

    def _add(self, verdicts: Iterable[Verdict], *, entry_point: str | None) -> None:
        for verdict in verdicts:
            finding = verdict.finding(entry_point=entry_point)
            key = (finding.location, finding.check.name)
            known = self._findings.get(key)
            # One finding per problem: the most severe reading of it, named after a task that reaches it.
            if known is None or _outranks(finding, known):
                self._findings[key] = finding


def _outranks(finding: Finding, known: Finding) -> bool:
    if finding.severity.rank != known.severity.rank:
        return finding.severity.rank > known.severity.rank
    return known.entry_point is None and finding.entry_point is not None


def _uniquely_named(entries: list[DiscoveredEntry]) -> list[DiscoveredEntry]:
    """Entry names qualified by module where two modules have the same one."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.name] = counts.get(entry.name, 0) + 1
    return [
        replace(entry, name=f"{entry.function.module.name}.{entry.name}") if counts[entry.name] > 1 else entry
        for entry in entries
    ]


def _entry_point(entry: DiscoveredEntry) -> EntryPoint:
    return EntryPoint(
        name=entry.name,
        kind=entry.kind,
        location=entry.location,
        started_at=tuple(site.location for site in entry.sites),
    )
