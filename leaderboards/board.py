"""Ranked leaderboards from entries: one board per dataset × task × corruption.

A board ranks the entries that measured the same thing (same dataset and task). The ranking, the robustness
summary, effective robustness and the test against the top row all come from :func:`avbench.scoring.summary.summarise`,
the summariser that also writes a run's ``summary.csv``, so a run and its verified entries are ranked the same way:
by the area under the primary-metric curve for a sweep, by the mean over the shared conditions for a categorical
corruption (a whole modality missing; see :mod:`avbench.scoring.summary`), by the clean score on the ``clean`` board.
Summaries are always derived here from the per-condition numbers, for reported and verified entries alike. Every
two entries of a board are tested (:mod:`avbench.scoring.ranking`): with the seed-aware paired test when both are
verified on the same protocol (same clips, same masks, same bootstrap resamples; each entry keeps its seeds'
resampled scores, and may have another number of seeds), otherwise by a normal approximation from the two
confidence intervals (unpaired, hence conservative); Holm corrects across all pairs of the board, and the star
against the top row, the rank intervals and the groups come from the same adjusted p-values.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from avbench.errors import UserError, unknown
from avbench.leaderboards.schema import CLEAN, Entry, MetricValue
from avbench.scoring.metrics import ATTRIBUTE_METRICS, CCC_MEAN
from avbench.models import RECIPE, format_label, model_modalities
from avbench.scoring.summary import Curve, Point, Summary, categorical, summarise
from avbench.tasks import get as get_task
from avbench.corruptions import REGISTRY

__all__ = ["Board", "CLEAN_BOARD", "Row", "build_board", "build_boards", "clean_value", "curve",
           "metric_value", "seed_sd"]

CLEAN_BOARD = "clean"


def metric_value(entry: Entry, corruption: str, level: str, metric: str) -> MetricValue | None:
    """The entry's number for one condition; the mean CCC falls back to the mean of the printed attribute CCCs
    (the audio-text paper prints the three attributes only)."""
    found = entry.value(corruption, level, metric)
    if found is not None or metric != CCC_MEAN:
        return found
    parts = [entry.value(corruption, level, m) for m in ATTRIBUTE_METRICS if m != CCC_MEAN]
    if any(p is None for p in parts):
        return None
    return MetricValue(corruption, level, parts[0].x, CCC_MEAN, float(np.mean([p.value for p in parts])))  # type: ignore[union-attr]


def clean_value(entry: Entry, metric: str, corruption: str | None = None) -> MetricValue | None:
    """The uncorrupted score: the papers' single-condition number, else the x = 0 level of a sweep (of
    ``corruption`` when given) — the level of every avbench corruption that masks nothing."""
    found = metric_value(entry, *CLEAN, metric)
    if found is not None:
        return found
    for m in entry.metrics:
        if m.x == 0.0 and corruption in (None, m.corruption):
            found = metric_value(entry, m.corruption, m.level, metric)
            if found is not None:
                return found
    return None


def _clean_label(corruption: str) -> str:
    """The label of a corruption's clean level (``none`` for ``modality``), so a paper's clean number lines up
    with avbench's; the paper's own label when the corruption is unknown here."""

    if corruption in REGISTRY:
        for level in REGISTRY.get(corruption).levels:
            if level.x == 0.0:
                return level.label
    return CLEAN[1]


def curve(entry: Entry, corruption: str, metric: str) -> list[MetricValue]:
    """The entry's points of one corruption sweep, sorted by x (clean point included when the entry has one)."""
    levels = {m.level: m.x for m in entry.metrics if m.corruption == corruption}
    points = [metric_value(entry, corruption, level, metric) for level in levels]
    found = [p for p in points if p is not None]
    if found and not any(p.x == 0.0 for p in found):
        clean = clean_value(entry, metric)
        if clean is not None:
            found.append(MetricValue(corruption, _clean_label(corruption), 0.0, metric, clean.value, clean.ci_low,
                                     clean.ci_high))
    return sorted(found, key=lambda p: p.x)


@dataclass
class Row:
    """One entry of a board: its clean number, its points and the summariser's verdict on it, whose fields
    (``score``, ``auc``, ``relative``, ``effective``, ``worst``, ``rank``, ``p_holm``, ``test``, …) read through."""

    entry: Entry
    clean: MetricValue | None
    points: list[MetricValue]
    summary: Summary = field(repr=False)

    def __getattr__(self, name: str) -> object:
        if name == "summary":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.summary, name)

    def to_dict(self) -> dict[str, Any]:
        """As plain data (``avbench leaderboard --format json``): the entry's identity and links, the summariser's
        fields under their own names, the clean number and the points."""
        model = self.entry.model
        summary = {key: value for key, value in asdict(self.summary).items() if key not in ("distribution",)}
        summary["score_ci"] = list(self.summary.score_ci) if self.summary.score_ci else None
        summary["compared_over"] = list(self.summary.compared_over)
        return {"entry": self.entry.id, "model": model.name, "label": model.label, "provenance": self.entry.provenance,
                "protocol": self.entry.protocol.name, "paper": model.paper, "citation": model.citation,
                "code": model.code, "sees_masks": model.sees_masks, "eval_path": model.eval_path,
                **{k: v for k, v in summary.items() if k not in ("model", "clean")},
                "clean": asdict(self.clean) if self.clean is not None else None,
                "points": [asdict(p) for p in self.points]}


@dataclass
class Board:
    """The ranked rows of one dataset × task × corruption (``corruption`` is ``clean`` for the clean board)."""

    dataset: str
    task: str
    corruption: str
    metric: str
    rows: list[Row] = field(default_factory=list)
    training: str = RECIPE  # the training protocol every ranked entry was trained under

    @property
    def sweep(self) -> bool:
        return self.corruption != CLEAN_BOARD and not categorical(self.corruption)

    @property
    def compared_over(self) -> tuple[str, ...]:
        """The shared conditions a categorical board ranks by (empty for sweeps)."""
        return next((r.compared_over for r in self.rows if r.compared_over), ())

    @property
    def levels(self) -> list[tuple[str, float]]:
        """Every level any row measured, by x (the board's columns)."""
        seen: dict[str, float] = {}
        for row in self.rows:
            for p in row.points:
                seen.setdefault(p.level, p.x)
        return sorted(seen.items(), key=lambda kv: kv[1])

    def to_dict(self) -> dict[str, Any]:
        """As plain data: what the board ranks, by which metric, and its rows in rank order."""
        return {"dataset": self.dataset, "task": self.task, "corruption": self.corruption, "metric": self.metric,
                "sweep": self.sweep, "levels": [{"level": label, "x": x} for label, x in self.levels],
                "compared_over": list(self.compared_over), "rows": [row.to_dict() for row in self.rows]}


def _stored(entry: Entry, corruption: str) -> dict:
    """The stored bootstrap scores of a verified entry for one board (same resamples for every entry of the
    protocol)."""
    return entry.bootstrap.get("scores", {}).get(corruption, {})


def _array(values: object) -> np.ndarray | None:
    return None if values is None else np.asarray(values, dtype=np.float64)


def seed_sd(seed_scores: np.ndarray | None) -> float | None:
    """Between-seed SD (n − 1) of per-seed scores; None with fewer than two seeds."""
    if seed_scores is None or len(seed_scores) < 2:
        return None
    return float(np.std(seed_scores, ddof=1))


def _pairing(entry: Entry, corruption: str) -> tuple | None:
    """Entries with equal keys were verified on the same clips, resamples and (for a corruption board) masks."""
    if entry.provenance != "verified" or not entry.bootstrap:
        return None
    masks = None if corruption == CLEAN_BOARD else json.dumps(entry.protocol.mask_digests.get(corruption),
                                                               sort_keys=True)
    return (entry.protocol.name, entry.bootstrap.get("seed"), entry.bootstrap.get("n_resamples"), masks)


def _curve(entry: Entry, corruption: str, metric: str) -> tuple[Curve, MetricValue | None, list[MetricValue]] | None:
    """The summariser's view of one entry on one board, or None when the entry has nothing for it."""
    model = entry.model.label or entry.model.name
    if corruption == CLEAN_BOARD:
        clean = clean_value(entry, metric)
        if clean is None:
            return None
        points = [Point(CLEAN_BOARD, 0.0, clean.value, clean.ci_low, clean.ci_high)]
        kept = _stored(entry, CLEAN_BOARD)
        stored, seeds = _array(kept.get("clean")), _array(kept.get("seeds"))
        distributions = None if stored is None else {CLEAN_BOARD: stored}
        return Curve(model, points, None, distributions, None, _pairing(entry, corruption), entry.protocol.name,
                     None if seeds is None else {CLEAN_BOARD: seeds}), clean, []
    values = curve(entry, corruption, metric)
    if not any(p.corruption == corruption for p in values):
        return None
    stored = _stored(entry, corruption)
    levels, seed_levels = stored.get("levels"), stored.get("seed_levels")
    distributions = None if levels is None else {k: np.asarray(v, np.float64) for k, v in levels.items()}
    points = [Point(p.level, p.x, p.value, p.ci_low, p.ci_high) for p in values]
    curve_ = Curve(model, points, model_modalities(entry.model.label or ""), distributions, _array(stored.get("auc")),
                   _pairing(entry, corruption), entry.protocol.name,
                   None if seed_levels is None else {k: np.asarray(v, np.float64) for k, v in seed_levels.items()},
                   _array(stored.get("seeds")))
    return curve_, clean_value(entry, metric, corruption), values


def build_board(entries: Sequence[Entry], dataset: str, task: str, corruption: str,
                training: str = RECIPE) -> Board:
    """Rank the entries of one dataset × task trained under ``training`` (the model's own recipe by default) under
    ``corruption`` (``clean`` for the uncorrupted score): like with like, as a run ranks each protocol apart."""
    metric = get_task(task).primary
    board = Board(dataset, task, corruption, metric, training=training)
    found = [(e, c) for e in entries if e.protocol.dataset == dataset and e.protocol.task == task
             and e.model.training == training for c in [_curve(e, corruption, metric)] if c is not None]
    baseline = get_task(task).baseline
    summaries = summarise([c for _, (c, _, _) in found], metric, None if corruption == CLEAN_BOARD else corruption,
                          corruption == CLEAN_BOARD or categorical(corruption),
                          format_label(baseline, None, training) if baseline else None)
    board.rows = [Row(entry, clean, points, summary) for (entry, (_, clean, points)), summary in zip(found, summaries)]
    board.rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.model))
    return board


def corruptions_of(entries: Sequence[Entry], dataset: str, task: str, training: str = RECIPE) -> list[str]:
    names = {m.corruption for e in entries if (e.protocol.dataset, e.protocol.task, e.model.training)
             == (dataset, task, training) for m in e.metrics}
    return sorted(names - {CLEAN[0]})


def _group_order(group: tuple[str, str, str]) -> tuple[str, str, bool, str]:
    """Boards by dataset and task, the recipe's first (the papers' boards), then the other training protocols."""
    dataset, task, training = group
    return dataset, task, training != RECIPE, training


def build_boards(entries: Sequence[Entry], dataset: str | None = None, corruption: str | None = None) -> list[Board]:
    """Every board the entries support, optionally only one dataset and/or one corruption (``clean`` allowed); one
    board per training protocol the entries were trained under."""
    groups = sorted({(e.protocol.dataset, e.protocol.task, e.model.training) for e in entries}, key=_group_order)
    if dataset is not None:
        known = sorted({d for d, _, _ in groups})
        if dataset not in known:
            raise unknown("leaderboard dataset", dataset, known)
        groups = [g for g in groups if g[0] == dataset]
    boards: list[Board] = []
    for ds, task, training in groups:
        names = [CLEAN_BOARD, *corruptions_of(entries, ds, task, training)]
        if corruption is not None:
            names = [n for n in names if n == corruption]
        boards.extend(b for b in (build_board(entries, ds, task, n, training) for n in names) if b.rows)
    if corruption is not None and not boards:
        available = sorted({CLEAN_BOARD, *(c for ds, t, p in groups for c in corruptions_of(entries, ds, t, p))})
        raise UserError(f"no entry measured corruption {corruption!r}" + (f" on {dataset!r}" if dataset else "")
                        + f"; available: {', '.join(available)}")
    return boards
