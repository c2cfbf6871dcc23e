"""Architecture vs training: what a training protocol changes in a model's robustness, with seed-aware intervals.

A run with ``--protocols`` trains every architecture under several protocols and evaluates every checkpoint on the
same test clips under the same masks, scored on the same clip resamples; seed s of one protocol starts from the same
initialisation and batch order as seed s of another. The difference between two protocols of one architecture is
therefore paired over clip resamples, and :func:`paired_effect` — the one place an effect's interval and p come
from — tests it with the seed-aware paired test of every ranking (:func:`avbench.scoring.stats.seed_paired_test`),
so the interval covers the between-seed variance of training as well as the clip variance of the test set.

* **Protocol effect** (``summary.csv``'s ``training_effect`` columns, written by :mod:`avbench.scoring.summary`):
  per architecture, task and corruption, the ranking summary (the area under the primary-metric curve; for a
  categorical corruption the mean over the conditions that apply to the model) under a protocol minus under
  ``clean``, Holm-corrected across the architectures of one protocol.
* **Architecture vs training** (:func:`variance_shares`): how the spread of that summary over a complete model ×
  protocol grid splits into a part between architectures, a part between protocols and their interaction (a
  two-way decomposition of sums of squares without replication).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from avbench.models.registry import RECIPE, label_training
from avbench.scoring.robustness import curve_area
from avbench.scoring.significance import CONFIDENCE
from avbench.scoring.stats import seed_test_parts, t_interval


@dataclass(frozen=True)
class Effect:
    """A paired difference of two trainings of one architecture: the point, its interval and its two-sided p."""

    value: float
    low: float
    high: float
    p: float


def paired_effect(difference: float, treated: np.ndarray, control: np.ndarray,
                  confidence: float = CONFIDENCE) -> Effect:
    """``treated`` minus ``control``: (S, B) scores per training seed and clip resample of two trainings of the
    same architecture on the same clips, masks and resamples. Seed s of both starts from the same initialisation and
    batch order, so the differences are paired seed by seed: their (S, B) array is tested against zero with the
    seed-aware test of every ranking (:func:`avbench.scoring.stats.seed_test_parts`: the test set through the
    shared resamples, retraining through the differences' between-seed variance, Student t), so an effect's
    interval and p mean what a ranking's do. ``difference`` is the point value (the difference of the plain
    seed-mean scores), the interval is centred on it and p is read at it."""
    per_seed = np.asarray(treated, dtype=np.float64) - np.asarray(control, dtype=np.float64)
    _, se, df = seed_test_parts(per_seed, np.zeros((1, per_seed.shape[-1])))
    if not se > 0:  # identical trainings, or a resample set without a defined variance (NaN): nothing to state
        return Effect(float(difference), float(difference), float(difference), 1.0 if difference == 0 else 0.0)
    return Effect(float(difference), *t_interval(difference, se, df, confidence))


def area_scores(per_seed: np.ndarray, x: Sequence[float]) -> np.ndarray:
    """(S, L, B) resampled level scores → (S, B) resampled areas under the curve over the real level axis (x), as
    a sweep is summarised (:func:`avbench.scoring.robustness.curve_area`)."""
    return curve_area(np.asarray(x, dtype=np.float64), np.moveaxis(per_seed, 1, 0))


def window_scores(per_seed: np.ndarray, x: Sequence[float], low: float, high: float) -> np.ndarray:
    """(S, L, B) → (S, B): the mean over the levels whose x lies in [low, high] (the extreme end of a sweep)."""
    chosen = [i for i, value in enumerate(x) if low <= value <= high]
    if not chosen:
        raise ValueError(f"no level between {low:g} and {high:g}")
    return per_seed[:, chosen].mean(axis=1)


def has_protocols(labels: Sequence[str]) -> bool:
    """Were any of these results labels trained under a training protocol other than the recipe (``raver@clean``)?"""
    return any(label_training(str(label)) != RECIPE for label in labels)


@dataclass(frozen=True)
class Shares:
    """Shares of the spread of a summary over a complete model × protocol grid (they sum to 1)."""

    architecture: float
    training: float
    interaction: float
    models: int
    protocols: int


def variance_shares(grid: pd.DataFrame) -> Shares | None:
    """Two-way decomposition of a complete model × protocol table of one summary (rows: architectures, columns:
    protocols; rows with a missing cell are left out): the sums of squares of the row means, of the column means
    and of the remainder, each over the total. None with fewer than two complete rows or two columns, or no
    spread."""
    complete = grid.dropna(axis=0, how="any").astype(float)
    if complete.shape[0] < 2 or complete.shape[1] < 2:
        return None
    values = complete.to_numpy()
    grand = values.mean()
    rows = complete.shape[1] * ((values.mean(axis=1) - grand) ** 2).sum()
    columns = complete.shape[0] * ((values.mean(axis=0) - grand) ** 2).sum()
    total = ((values - grand) ** 2).sum()
    if total <= 0:
        return None
    return Shares(float(rows / total), float(columns / total), float((total - rows - columns) / total),
                  complete.shape[0], complete.shape[1])
