"""Every two models of a ranked table compared once: significance against the top, rank intervals and groups.

A ranking makes a claim about every pair of its models, so the pairs are one Holm family: M models give
M·(M − 1)/2 tests, each :func:`avbench.scoring.stats.seed_paired_test` when the two were scored on the same clip
resamples (seeds and clips; clips only with one seed each), otherwise a normal approximation from their two
intervals (unpaired, conservative). Three readings come from the same Holm-adjusted p-values, so they cannot
contradict each other:

* **vs top** — a model is starred when the top model is significantly above it; the difference gets the interval
  at its Holm level (:func:`avbench.scoring.stats.holm_levels`), which excludes zero exactly when it is starred.
* **rank interval** — 1 + the models significantly above, to M − the models significantly below: with the family
  held at 5 %, every model's rank lies in its interval at once with 95 % confidence (Klein, Wright & Wieczorek,
  "A joint confidence region for an overall ranking of populations", JRSS C 2020).
* **groups** — in rank order, a model opens a new group (the next letter) when the first model of the current group
  is significantly above it; within a group no model is significantly below the group's first.

Beside them, P(> top) is rliable's probability of improvement against the top model
(:func:`avbench.scoring.stats.probability_of_improvement`), on the shared resamples only.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from avbench.scoring.significance import ALPHA
from avbench.scoring.stats import holm, holm_levels, probability_of_improvement, seed_test_parts, t_p_value, \
    t_quantile

SEED_AWARE = "seed-aware paired t"
CLIPS_ONLY = "paired clip bootstrap"
FROM_INTERVALS = "approx. from CIs"
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Contender:
    """One ranked model as the comparisons see it: its score, its per-seed resampled scores (S, B) and per-seed
    test-set scores (S,) when known, its interval (for unpaired comparisons) and its pairing key."""

    score: float
    resampled: np.ndarray | None = None
    seed_scores: np.ndarray | None = None
    interval: tuple[float, float] | None = None
    pairing: Hashable | None = None


@dataclass(frozen=True)
class Pair:
    """One test of the family: ``difference`` = score of ``j`` − score of ``i``."""

    i: int
    j: int
    difference: float
    se: float
    df: float
    p: float
    test: str


@dataclass
class Ranking:
    """The family's results for models given in rank order (index 0 = the top model)."""

    pairs: dict[tuple[int, int], Pair] = field(default_factory=dict)
    p_holm: dict[tuple[int, int], float] = field(default_factory=dict)
    levels: dict[tuple[int, int], float] = field(default_factory=dict)
    above: set[tuple[int, int]] = field(default_factory=set)  # (i, j): i significantly above j
    rank_intervals: list[tuple[int, int]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    improvement: list[float | None] = field(default_factory=list)  # P(model > top)

    def against_top(self, k: int) -> tuple[Pair, float, float, float] | None:
        """(test, Holm p, interval low, high) of model k against the top model, or None when untested."""
        pair = self.pairs.get((0, k))
        if pair is None:
            return None
        half = float(t_quantile(pair.df, 1.0 - self.levels[(0, k)] / 2.0)) * pair.se
        return pair, self.p_holm[(0, k)], pair.difference - half, pair.difference + half


def paired(a: Contender, b: Contender) -> bool:
    """Scored on the same clip resamples (same protocol, bootstrap and masks), so the test can pair them."""
    return (a.pairing is not None and a.pairing == b.pairing and a.resampled is not None
            and b.resampled is not None and a.resampled.shape[-1] == b.resampled.shape[-1])


def compare(a: Contender, b: Contender) -> tuple[float, float, float, str] | None:
    """(b − a, standard error, degrees of freedom, test), or None when neither a pairing nor two intervals exist."""
    if paired(a, b):
        difference, se, df = seed_test_parts(b.resampled, a.resampled, b.seed_scores, a.seed_scores)
        several = max(len(a.resampled), len(b.resampled)) > 1
        return b.score - a.score, float(se), float(df), SEED_AWARE if several else CLIPS_ONLY
    if a.interval is None or b.interval is None:
        return None
    se = math.hypot((a.interval[1] - a.interval[0]) / (2 * _Z95), (b.interval[1] - b.interval[0]) / (2 * _Z95))
    return (b.score - a.score, se, math.inf, FROM_INTERVALS) if se > 0 else None


def rank_all(contenders: Sequence[Contender], higher_is_better: bool, alpha: float = ALPHA) -> Ranking:
    """Test every pair of ``contenders`` (given in rank order) as one Holm family, and read off stars, rank
    intervals, groups and the probability of improvement against the top."""
    ranking = Ranking()
    sign = 1.0 if higher_is_better else -1.0
    for i, j in combinations(range(len(contenders)), 2):
        found = compare(contenders[i], contenders[j])
        if found is not None:
            difference, se, df, test = found
            ranking.pairs[(i, j)] = Pair(i, j, difference, se, df, float(t_p_value(difference, se, df)), test)
    keys = list(ranking.pairs)
    if keys:
        p = np.array([ranking.pairs[k].p for k in keys])
        for key, adjusted, level in zip(keys, holm(p), holm_levels(p, alpha)):
            ranking.p_holm[key], ranking.levels[key] = float(adjusted), float(level)
            if adjusted < alpha:
                i, j = key
                ranking.above.add((i, j) if sign * ranking.pairs[key].difference < 0 else (j, i))
    count = len(contenders)
    ranking.rank_intervals = [(1 + sum((i, k) in ranking.above for i in range(count)),
                               count - sum((k, j) in ranking.above for j in range(count))) for k in range(count)]
    ranking.groups = _groups(count, ranking.above)
    top = contenders[0] if contenders else None
    ranking.improvement = [None if k == 0 or top is None or not paired(top, c) else
                           probability_of_improvement(c.resampled, top.resampled, higher_is_better)
                           for k, c in enumerate(contenders)]
    return ranking


def _groups(count: int, above: set[tuple[int, int]]) -> list[str]:
    """Letters in rank order: a new one where the current group's first model is significantly above the model."""
    groups, leader, letter = [], 0, 0
    for k in range(count):
        if (leader, k) in above:
            leader, letter = k, letter + 1
        groups.append(group_name(letter))
    return groups


def group_name(index: int) -> str:
    """A, B, …, Z, AA, AB, …"""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def rank_text(interval: tuple[int, int] | None) -> str:
    """How a rank interval is written: ``3–7``, ``2`` when both ends agree, ``–`` when unranked."""
    if interval is None:
        return "–"
    return str(interval[0]) if interval[0] == interval[1] else f"{interval[0]}–{interval[1]}"
