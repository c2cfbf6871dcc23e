"""Ranked leaderboards from entries: one board per dataset × task × corruption.

A board ranks the entries that measured the same thing (same dataset and task) by their robustness area under a
corruption sweep, or by the clean score on the ``clean`` board and for categorical conditions (a whole modality
missing), where an area over arbitrary category codes would mean nothing. Summaries are always derived here from
the per-condition numbers — the area as :func:`avbench.results.curve_area` computes it for ``summary.csv`` (tied
levels averaged), relative robustness with :mod:`avbench.robustness` — for reported and verified entries alike, so
the two can never disagree about what "AUC" means. Significance against the top row is a paired bootstrap when both entries
are verified on the same protocol (same clips, same masks, same bootstrap resamples), otherwise a normal
approximation from the two confidence intervals (unpaired, hence conservative); Holm corrects across the rows.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.errors import UserError, unknown
from avbench.leaderboards.schema import CLEAN, Entry, MetricValue
from avbench.metrics import ATTRIBUTE_METRICS, CCC_MEAN, LOWER_IS_BETTER, MACRO_F1
from avbench.robustness import curve_area, relative_robustness
from avbench.stats import holm

PRIMARY = {"emotion": MACRO_F1, "attributes": CCC_MEAN}
BASELINE = {"emotion": "late-fusion", "attributes": "mdre-gru"}  # the runner's declared baselines
# levels are categories (which modality is missing), not a sweep: the corruptions flagged so in the registry
CATEGORICAL = frozenset(name for name, corruption in CORRUPTIONS.items() if corruption.categorical)
CLEAN_BOARD = "clean"
ALPHA = 0.05
_Z95 = float(scipy_stats.norm.ppf(0.975))


def metric_value(entry: Entry, corruption: str, level: str, metric: str) -> MetricValue | None:
    """The entry's number for one condition; ``ccc_mean`` falls back to the mean of the printed attribute CCCs
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


def curve(entry: Entry, corruption: str, metric: str) -> list[MetricValue]:
    """The entry's points of one corruption sweep, sorted by x (clean point included when the entry has one)."""
    levels = {m.level: m.x for m in entry.metrics if m.corruption == corruption}
    points = [metric_value(entry, corruption, level, metric) for level in levels]
    found = [p for p in points if p is not None]
    if found and not any(p.x == 0.0 for p in found):
        clean = clean_value(entry, metric)
        if clean is not None:
            found.append(MetricValue(corruption, clean.level, 0.0, metric, clean.value, clean.ci_low, clean.ci_high))
    return sorted(found, key=lambda p: p.x)


@dataclass
class Row:
    """One ranked entry of a board with its derived robustness summary and its test against the top row."""

    entry: Entry
    clean: MetricValue | None
    points: list[MetricValue]
    score: float | None = None  # what the board ranks by
    score_ci: tuple[float, float] | None = None
    auc: float | None = None
    relative: float | None = None
    effective: float | None = None
    worst: MetricValue | None = None
    rank: int | None = None
    difference: float | None = None  # score minus the top row's score
    p_value: float | None = None
    p_holm: float | None = None
    test: str = ""  # "paired bootstrap", "approx. from CIs" or "" (no test possible)

    @property
    def significant(self) -> bool:
        return self.p_holm is not None and self.p_holm < ALPHA


@dataclass
class Board:
    """The ranked rows of one dataset × task × corruption (``corruption`` is ``clean`` for the clean board)."""

    dataset: str
    task: str
    corruption: str
    metric: str
    rows: list[Row] = field(default_factory=list)

    @property
    def sweep(self) -> bool:
        return self.corruption != CLEAN_BOARD and self.corruption not in CATEGORICAL

    @property
    def levels(self) -> list[tuple[str, float]]:
        """Every level any row measured, by x (the board's columns)."""
        seen: dict[str, float] = {}
        for row in self.rows:
            for p in row.points:
                seen.setdefault(p.level, p.x)
        return sorted(seen.items(), key=lambda kv: kv[1])


def _summarise(row: Row, board: Board) -> None:
    if board.sweep and len(row.points) >= 2:
        x = [p.x for p in row.points]
        y = [p.value for p in row.points]
        row.auc = float(curve_area(np.asarray(x), np.asarray(y)))
        clean = row.points[0] if row.points[0].x == 0.0 else row.clean
        if clean is not None and clean.value != 0:
            row.relative = relative_robustness(row.auc, clean.value)
        lower = board.metric in LOWER_IS_BETTER
        row.worst = (max if lower else min)(row.points, key=lambda p: p.value)
        distribution = _bootstrap(row.entry, board.corruption, "auc")
        row.score, row.score_ci = row.auc, _percentile(distribution)
    elif not board.sweep and row.clean is not None:
        row.score = row.clean.value
        if row.clean.ci_low is not None:
            row.score_ci = (row.clean.ci_low, row.clean.ci_high)  # type: ignore[assignment]
        if board.corruption in CATEGORICAL and row.points:
            lower = board.metric in LOWER_IS_BETTER
            row.worst = (max if lower else min)(row.points, key=lambda p: p.value)


def _bootstrap(entry: Entry, corruption: str, quantity: str) -> np.ndarray | None:
    """The stored bootstrap distribution of a verified entry's ranking quantity (same resamples for every entry
    of the protocol), or None."""
    scores = entry.bootstrap.get("scores", {}).get(corruption, {}).get(quantity)
    return None if scores is None else np.asarray(scores, dtype=np.float64)


def _percentile(distribution: np.ndarray | None) -> tuple[float, float] | None:
    if distribution is None or not distribution.size:
        return None
    low, high = np.nanquantile(distribution, [0.025, 0.975])
    return float(low), float(high)


def _paired_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided bootstrap p of the paired difference: 2·min(P*(d ≤ 0), P*(d ≥ 0)), as avbench.stats does."""
    d = a - b
    d = d[~np.isnan(d)]
    return float(min(1.0, 2.0 * min(np.mean(d <= 0), np.mean(d >= 0))))


def _approx_p(a: Row, b: Row) -> float | None:
    if a.score_ci is None or b.score_ci is None or a.score is None or b.score is None:
        return None
    se = math.hypot((a.score_ci[1] - a.score_ci[0]) / (2 * _Z95), (b.score_ci[1] - b.score_ci[0]) / (2 * _Z95))
    if se == 0:
        return None
    return float(2 * scipy_stats.norm.sf(abs(a.score - b.score) / se))


def _same_protocol(a: Entry, b: Entry, corruption: str) -> bool:
    """Both verified on the same clips, resamples and (for a corruption board) the same masks of every level."""
    masks_a, masks_b = a.protocol.mask_digests.get(corruption), b.protocol.mask_digests.get(corruption)
    return (a.provenance == b.provenance == "verified" and a.protocol.name == b.protocol.name
            and a.bootstrap.get("seed") == b.bootstrap.get("seed")
            and a.bootstrap.get("n_resamples") == b.bootstrap.get("n_resamples")
            and (corruption == CLEAN_BOARD or masks_a == masks_b))


def _test_against_top(board: Board) -> None:
    ranked = [r for r in board.rows if r.rank is not None]
    if len(ranked) < 2:
        return
    top = ranked[0]
    quantity = "auc" if board.sweep else "clean"
    corruption = board.corruption if board.sweep else CLEAN_BOARD
    tested: list[Row] = []
    for row in ranked[1:]:
        row.difference = row.score - top.score  # type: ignore[operator]
        top_dist, row_dist = _bootstrap(top.entry, corruption, quantity), _bootstrap(row.entry, corruption, quantity)
        if _same_protocol(top.entry, row.entry, corruption) and top_dist is not None and row_dist is not None \
                and top_dist.shape == row_dist.shape:
            row.p_value, row.test = _paired_p(top_dist, row_dist), "paired bootstrap"
        else:
            row.p_value = _approx_p(top, row)
            row.test = "approx. from CIs" if row.p_value is not None else ""
        if row.p_value is not None:
            tested.append(row)
    if tested:
        for row, adjusted in zip(tested, holm([r.p_value for r in tested])):
            row.p_holm = float(adjusted)


def _effective(board: Board) -> None:
    """Effective robustness against the declared baseline's entry of the same protocol, when one is on the board.

    (AUC − clean) of the model minus that of the baseline: :func:`avbench.robustness.effective_robustness` on
    curves whose tied levels (the three 50 % Markov settings) are averaged first, as the runner's summary does.
    """
    baseline_label = BASELINE.get(board.task)
    for base in board.rows:
        if base.entry.model.label != baseline_label or base.auc is None:
            continue
        for row in board.rows:
            same_levels = [p.level for p in row.points] == [p.level for p in base.points]
            if row.auc is not None and row.entry.protocol.name == base.entry.protocol.name and same_levels:
                row.effective = (row.auc - row.points[0].value) - (base.auc - base.points[0].value)


def build_board(entries: Sequence[Entry], dataset: str, task: str, corruption: str) -> Board:
    """Rank the entries of one dataset × task under ``corruption`` (``clean`` for the uncorrupted score)."""
    metric = PRIMARY[task]
    board = Board(dataset, task, corruption, metric)
    for entry in entries:
        if entry.protocol.dataset != dataset or entry.protocol.task != task:
            continue
        clean = clean_value(entry, metric, None if corruption == CLEAN_BOARD else corruption)
        points = [] if corruption == CLEAN_BOARD else curve(entry, corruption, metric)
        if corruption == CLEAN_BOARD and clean is None or corruption != CLEAN_BOARD and not any(
                p.corruption == corruption for p in points):
            continue
        row = Row(entry, clean, points)
        _summarise(row, board)
        board.rows.append(row)
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    board.rows.sort(key=lambda r: (r.score is None, sign * (r.score or 0.0), r.entry.model.name))
    for rank, row in enumerate((r for r in board.rows if r.score is not None), start=1):
        row.rank = rank
    _effective(board)
    _test_against_top(board)
    return board


def corruptions_of(entries: Sequence[Entry], dataset: str, task: str) -> list[str]:
    names = {m.corruption for e in entries if (e.protocol.dataset, e.protocol.task) == (dataset, task)
             for m in e.metrics}
    return sorted(names - {CLEAN[0]})


def build_boards(entries: Sequence[Entry], dataset: str | None = None, corruption: str | None = None) -> list[Board]:
    """Every board the entries support, optionally only one dataset and/or one corruption (``clean`` allowed)."""
    groups = sorted({(e.protocol.dataset, e.protocol.task) for e in entries})
    if dataset is not None:
        known = sorted({d for d, _ in groups})
        if dataset not in known:
            raise unknown("leaderboard dataset", dataset, known)
        groups = [g for g in groups if g[0] == dataset]
    boards: list[Board] = []
    for ds, task in groups:
        names = [CLEAN_BOARD, *corruptions_of(entries, ds, task)]
        if corruption is not None:
            names = [n for n in names if n == corruption]
        boards.extend(b for b in (build_board(entries, ds, task, n) for n in names) if b.rows)
    if corruption is not None and not boards:
        available = sorted({CLEAN_BOARD, *(c for ds, t in groups for c in corruptions_of(entries, ds, t))})
        raise UserError(f"no entry measured corruption {corruption!r}" + (f" on {dataset!r}" if dataset else "")
                        + f"; available: {', '.join(available)}")
    return boards
