"""One audit: read the files, find the entry points, walk them, judge, and report.

The code that starts background work is walked first, to learn what it hands over;
then every entry point is walked with those values, then judged as a whole, and the
modules are judged for engines. Suppressions are applied last.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
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
from background_task_audit.entrypoints import DiscoveredEntry, EntryPointFinder
from background_task_audit.events import FlowEvent
from background_task_audit.findings import AuditReport, EntryPoint, FileNote, Finding
from background_task_audit.flow import Analysis
from background_task_audit.orm import ModelCatalog
from background_task_audit.project import Project
from background_task_audit.sessions import SessionFactories
from background_task_audit.sources import (
    SourceModule,
    UnreadableFile,
    parse_file,
    python_files,
)
from background_task_audit.summaries import Summaries
from background_task_audit.suppression import apply_suppressions


def audit_paths(paths: Sequence[Path], *, base: Path) -> AuditReport:
    """Audit every Python file under `paths`; locations are shown relative to `base`."""
    parsed = [parse_file(path, base=base) for path in python_files(paths)]
    modules = [item for item in parsed if isinstance(item, SourceModule)]
    notes = [
        FileNote(path=item.display_path, message=item.reason) for item in parsed if isinstance(item, UnreadableFile)
    ]
    auditor = _Auditor(Project(modules, base=base))
    findings = apply_suppressions(auditor.run(), modules)
    return AuditReport(
        files_scanned=len(parsed),
        entry_points=[_entry_point(entry) for entry in auditor.entries],
        findings=sorted(findings, key=lambda finding: finding.sort_key),
        notes=notes + auditor.notes(),
    )


class _Auditor:
    def __init__(self, project: Project) -> None:
        self._project = project
        self._factories = SessionFactories(project)
        self._summaries = Summaries(project, self._factories)
        self._models = ModelCatalog(project)
        self.entries = _uniquely_named(EntryPointFinder(project, self._summaries).find())
        sites = {id(site.call): (site, entry.function) for entry in self.entries for site in entry.sites}
        self._analysis = Analysis(
            project=project,
            factories=self._factories,
            summaries=self._summaries,
            models=self._models,
            sites=sites,
            emit=self._on_event,
        )
        self._findings: dict[tuple, Finding] = {}

    def run(self) -> list[Finding]:
        self._walk_starters()
        for entry in self.entries:
            self._walk_entry(entry)
        for entry in self.entries:
            self._add(judge_dropped_tasks(entry.sites), entry_point=entry.name)
            if entry.function is not None:
                self._add(judge_entry(self._context(entry)), entry_point=entry.name)
        self._add(judge_engines(self._project, self._factories), entry_point=None)
        return list(self._findings.values())

    def notes(self) -> list[FileNote]:
        """Functions the analysis gave up on: their findings may be incomplete."""
        unfinished = dict.fromkeys(self._analysis.too_deep)
        return [
            FileNote(
                path=function.module.display_path, message=f"`{function.qualname}` is nested too deeply to analyse"
            )
            for function in unfinished
        ]

    def _walk_starters(self) -> None:
        """The functions that start tasks, so that what they hand over is known."""
        walked = set()
        for entry in self.entries:
            for site in entry.sites:
                if site.enclosing not in walked:
                    walked.add(site.enclosing)
                    self._analysis.walk(site.enclosing, entry=entry.name, reaching=False)

    def _walk_entry(self, entry: DiscoveredEntry) -> None:
        if entry.function is None:
            return
        for arguments, closure in self._starts(entry):
            self._analysis.walk(entry.function, entry=entry.name, arguments=arguments, closure=closure)

    def _starts(self, entry: DiscoveredEntry) -> list[tuple[dict, dict]]:
        handed = [start for site in entry.sites for start in self._analysis.site_arguments.get(id(site.call), [])]
        return handed or [({}, {})]

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
        )

    def _on_event(self, event: FlowEvent) -> None:
        self._add(judge_event(event), entry_point=event.entry)

    def _add(self, verdicts: Iterable[Verdict], *, entry_point: str | None) -> None:
        for verdict in verdicts:
            finding = verdict.finding(entry_point=entry_point)
            # The first walk to see a problem names its entry point; later walks repeat it.
            self._findings.setdefault((finding.location, finding.check.name), finding)


def _uniquely_named(entries: list[DiscoveredEntry]) -> list[DiscoveredEntry]:
    """Entry names qualified by module where two modules have the same one."""
    counts = Counter(entry.name for entry in entries)
    return [
        replace(entry, name=f"{_module_of(entry)}.{entry.name}") if counts[entry.name] > 1 else entry
        for entry in entries
    ]


def _module_of(entry: DiscoveredEntry) -> str:
    return entry.function.module.name if entry.function else entry.sites[0].module.name


def _entry_point(entry: DiscoveredEntry) -> EntryPoint:
    return EntryPoint(
        name=entry.name,
        kind=entry.kind,
        location=entry.location,
        started_at=tuple(site.location for site in entry.sites),
    )
