"""What a report is: a paper artifact, the runs it needs, and how it is built from their results.

Each report declares its runs as :class:`Need` objects (models, corruptions, seeds, constructor overrides), so
missing results are never a mystery: the report prints the exact ``avbench run`` command that produces them, or
runs them itself (``avbench report all``). The embedded defaults are the reduced, CPU-sized ones: tiny configs
and one seed, except where the paper's statistics need five seeds (the audio-text 5 seeds × 5 subsets protocol),
which ``--seeds`` may reduce — and the output then says so.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from avbench.registry import Registry
from avbench.output.tables import Table
from avbench.reports.needs import Need

if TYPE_CHECKING:
    from avbench.reports.figures import FigureArtifact
    from avbench.reports.runs import ResultSet

SIGNIFICANCE = ("seed-aware", "paper")  # how reports mark significance; the first is the default


@dataclass(frozen=True)
class Settings:
    """How reports are reproduced: the dataset, the seed count (None = each report's protocol), the config, and the
    significance protocol of the markers (``seed-aware``, or ``paper`` for the paper's own)."""

    dataset: str = "synthetic"
    seeds: int | None = None
    config: str = "tiny"
    significance: str = SIGNIFICANCE[0]

    def seed_list(self, protocol_seeds: int) -> tuple[int, ...]:
        return tuple(range(self.seeds if self.seeds is not None else protocol_seeds))


@dataclass
class Context:
    """What a report's builder receives: located results, settings, and the published entries when comparing."""

    results: "ResultSet"
    settings: Settings
    seeds: tuple[int, ...]
    compare_published: bool
    notes: list[str] = field(default_factory=list)


Artifact = Union[Table, "FigureArtifact"]


@dataclass(frozen=True)
class Report:
    """One artifact of one paper; ``needs`` and ``build`` receive the settings/context above."""

    name: str
    title: str
    source: str  # "RAVER, Table 2"
    kind: str  # "table" or "figure"
    protocol_seeds: int
    needs: Callable[[Settings, tuple[int, ...]], list[Need]]
    build: Callable[[Context], Artifact]
    # a README section the report owns (:mod:`avbench.reports.readme`), rendered as Markdown from the same context
    # after ``build``; None for the papers' artifacts
    readme: Callable[[Context], str] | None = None

    def seeds(self, settings: Settings) -> tuple[int, ...]:
        return settings.seed_list(self.protocol_seeds)

    def required(self, settings: Settings) -> list[Need]:
        return self.needs(settings, self.seeds(settings))


REGISTRY: Registry[Report] = Registry(
    "report", entry_point_group="avbench.reports",
    entries={
        "raver-table2": "avbench.reports.raver:TABLE2",
        "raver-table3": "avbench.reports.raver:TABLE3",
        "raver-table4": "avbench.reports.raver:TABLE4",
        "raver-fig2": "avbench.reports.raver:FIG2",
        "raver-fig3": "avbench.reports.raver:FIG3",
        "raver-fig5": "avbench.reports.raver:FIG5",
        "audiotext-table1": "avbench.reports.audiotext:TABLE1",
        "audiotext-table2": "avbench.reports.audiotext:TABLE2",
        "audiotext-fig4": "avbench.reports.audiotext:FIG4",
        "protocols": "avbench.reports.protocols:REPORT",
    },
    base=Report,
)
