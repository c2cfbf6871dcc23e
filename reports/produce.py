"""Producing reports: locate (or run) the needed runs, build the artifact, write every format.

Tables are written as ``<name>.md``, ``<name>.tex`` and ``<name>.csv``; figures as ``<name>.png``, ``<name>.pdf``,
the plotted numbers as ``<name>.csv`` and a caption with the notes as ``<name>.md``. A report whose runs are missing fails with the exact ``avbench run``
commands, unless asked to run them (the default for ``all``), in which case they go under the results root in
stable directories, so a second call finds and reuses them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from avbench.atomic import write_text
from avbench.errors import UserError
from avbench.reports import readme
from avbench.reports.base import REGISTRY, Context, Need, Report, Settings
from avbench.reports.figures import FigureArtifact, save
from avbench.reports.runs import ResultSet, discover, locate
from avbench.output import formats
from avbench.output.tables import Table

ALL = "all"


@dataclass(frozen=True)
class Options:
    """Everything ``avbench report`` controls besides which report."""

    results: Path
    out: Path
    settings: Settings = Settings()
    compare_published: bool = False
    run_missing: bool = False
    bootstrap: int = 1000
    epochs: int | None = None
    progress: bool = True
    readme: Path | None = None  # where reports that own a README section write it (None: they do not)


class ReportInfo(NamedTuple):
    """One row of ``avbench list reports``."""

    name: str
    kind: str
    source: str
    title: str
    runs: str


get = REGISTRY.get
names = REGISTRY.names


def _describe(need: Need) -> str:
    overrides = "".join(f" [{k}={v}]" for k, v in need.overrides)
    trained = "" if need.protocols == ("recipe",) else f" × trained {', '.join(need.protocols)}"
    return f"{', '.join(need.models)}{overrides}{trained} × {', '.join(need.corruptions)} × {len(need.seeds)} seed(s)"


def describe() -> list[ReportInfo]:
    """Every registered report with the runs it needs under the embedded defaults."""
    rows = []
    for name in names():
        report = get(name)
        needs = report.required(Settings())
        rows.append(ReportInfo(name, report.kind, report.source, report.title, "; ".join(map(_describe, needs))))
    return rows


def missing_runs(report: Report, options: Options) -> tuple[dict[tuple[str, str], Path], list[Need]]:
    """The located (label, corruption) → run directory, and the needs with anything missing."""
    runs = discover(options.results)
    located: dict[tuple[str, str], Path] = {}
    incomplete = []
    for need in report.required(options.settings):
        found, missing = locate(runs, need)
        located.update(found)
        if missing:
            incomplete.append(need)
    return located, incomplete


def _ensure_runs(report: Report, options: Options) -> dict[tuple[str, str], Path]:
    located, incomplete = missing_runs(report, options)
    if not incomplete:
        return located
    if not options.run_missing:
        commands = " && ".join(n.command(options.results, options.bootstrap, options.epochs) for n in incomplete)
        raise UserError(f"report {report.name} needs runs that are not under {options.results} "
                        f"({'; '.join(_describe(n) for n in incomplete)}); produce them with: {commands} "
                        "(or pass --run-missing)")
    from avbench.runner import run  # deferred: safetensors, scipy, torch

    for need in incomplete:
        run(need.spec(options.results, options.bootstrap, options.epochs), progress=options.progress)
    located, incomplete = missing_runs(report, options)
    if incomplete:
        raise UserError(f"report {report.name}: runs still missing after running them: "
                        f"{'; '.join(_describe(n) for n in incomplete)}")
    return located


def context(report: Report, options: Options) -> Context:
    """What the report's builder receives, its runs located (or run)."""
    located = _ensure_runs(report, options)
    return Context(ResultSet(located), options.settings, report.seeds(options.settings), options.compare_published)


def write(report: Report, artifact: Table | FigureArtifact, out: Path) -> list[Path]:
    if isinstance(artifact, Table):
        paths = [out / f"{report.name}{fmt.suffix}" for fmt in formats.report_formats()]
        for fmt, path in zip(formats.report_formats(), paths):
            write_text(path, fmt.table(artifact))  # type: ignore[misc]
        return paths
    return save(artifact, out / report.name, f"{report.source}: {report.title}")


def produce(name: str, options: Options) -> list[Path]:
    """Build and write one report, or every report for ``all``; returns the written files."""
    chosen = names() if name == ALL else [get(name).name]
    if options.readme is not None:  # before any run: a README without the markers costs no training
        for report_name in chosen:
            if get(report_name).readme is not None:
                readme.check(options.readme, report_name)
    written: list[Path] = []
    for report_name in chosen:
        report = get(report_name)
        ctx = context(report, options)
        written.extend(write(report, report.build(ctx), options.out))
        if report.readme is not None and options.readme is not None:
            written.append(readme.replace_section(options.readme, report.name, report.readme(ctx)))
    return written
