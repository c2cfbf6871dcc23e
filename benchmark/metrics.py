"""Corpus-level scores for multi-label emotion classification and for emotional attributes.

Conventions (RAVER, Section IV-B/C; EMO-SUPERB):

* labels are vote shares over C emotions; the binary target of emotion e is ``share_e > 1/C`` (already-binary
  labels pass through unchanged because 1 > 1/C >= 0 for C >= 2);
* the predicted set is ``{e : p_e > threshold}`` with ``threshold = 1/C`` unless given, or, with
  ``threshold=TOP1``, the single most probable emotion (single-label decisions, the ``category`` task);
* every score is computed over the whole test set at once, never averaged over batches (the EMO-SUPERB
  per-batch macro-F1 mistake).

Every classification score is a function of *per-clip additive statistics* (:class:`ClipStatistics`):
per-class tp/fp/fn indicators, per-clip precision, per-clip squared error and per-clip calibration gaps per
bin. A score over any multiset of clips is then a weighted sum of those rows, so a bootstrap with B resamples is
one ``(B, N) @ (N, k)`` product per statistic instead of B metric calls (see :mod:`avbench.stats`).

The names returned here are declared in :mod:`avbench.metric_specs`; use its constants, not string literals.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from avbench.errors import UserError
# the names are declared once, in the metric registry, and re-exported here for callers
from avbench.metric_specs import BRIER, CCC_MEAN, ECE, MACRO_F1, MICRO_F1, PER_CLASS_F1, SAMPLE_PRECISION, WEIGHTED_F1
from avbench.metric_specs import ccc_key, f1_key, lower_is_better

__all__ = ["BRIER", "CCC_MEAN", "ECE", "MACRO_F1", "MICRO_F1", "PER_CLASS_F1", "SAMPLE_PRECISION", "WEIGHTED_F1",
           "CLASSIFICATION_METRICS", "LOWER_IS_BETTER", "ATTRIBUTE_NAMES", "ATTRIBUTE_METRICS", "ECE_BINS", "TOP1", "f1_key",
           "ccc_key", "ClipStatistics", "clip_statistics", "classification_scores", "binary_targets",
           "ReliabilityCurve", "reliability_curve", "weighted_ccc", "ccc", "attribute_inputs", "attribute_scores",
           "flatten_scores"]

CLASSIFICATION_METRICS: tuple[str, ...] = (MACRO_F1, MICRO_F1, WEIGHTED_F1, SAMPLE_PRECISION, BRIER, ECE)
"""Scalar classification scores, in the order they are reported; ``per_class_f1`` comes on top of these."""
LOWER_IS_BETTER: frozenset[str] = lower_is_better()
"""Scores where smaller is better (from the metric registry)."""
ATTRIBUTE_NAMES: tuple[str, ...] = ("arousal", "valence", "dominance")
ATTRIBUTE_METRICS: tuple[str, ...] = tuple(ccc_key(name) for name in ATTRIBUTE_NAMES) + (CCC_MEAN,)
ECE_BINS = 15
TOP1 = "top1"  # threshold value meaning "predict the single most probable class"


# --------------------------------------------------------------------------------------------- validation


def _finite(name: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        raise UserError(f"{name} contain NaN or inf ({int(np.sum(~np.isfinite(values)))} values)")


def _unit_interval(name: str, values: np.ndarray) -> None:
    _finite(name, values)
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise UserError(f"{name} must lie in [0, 1]; got min {values.min():.4g}, max {values.max():.4g}")


def _classification_inputs(y_true: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return (binary targets as bool (N, C), probabilities as float64 (N, C))."""
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if y.ndim != 2 or p.ndim != 2:
        raise UserError(f"labels and probabilities must be (clips, classes) arrays; got shapes {y.shape} and {p.shape}")
    if y.shape != p.shape:
        raise UserError(f"labels shape {y.shape} does not match probabilities shape {p.shape}")
    n_clips, n_classes = p.shape
    if n_clips == 0:
        raise UserError("no clips to score")
    if n_classes < 2:
        raise UserError(f"multi-label classification needs at least 2 classes; got {n_classes}")
    _unit_interval("probabilities", p)
    if y.dtype == np.bool_:
        return y, p
    y = y.astype(np.float64)
    _unit_interval("labels", y)
    return y > 1.0 / n_classes, p


def _decide(probs: np.ndarray, threshold: float | str | None) -> np.ndarray:
    """The predicted set of every clip: classes above the threshold, or the most probable one for :data:`TOP1`."""
    if threshold == TOP1:
        return np.eye(probs.shape[1], dtype=bool)[probs.argmax(axis=1)]
    return probs > _threshold(threshold, probs.shape[1])  # type: ignore[arg-type]


def _threshold(threshold: float | None, n_classes: int) -> float:
    if threshold is None:
        return 1.0 / n_classes
    if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise UserError(f"threshold must lie in [0, 1]; got {threshold}")
    return float(threshold)


def binary_targets(y_true: ArrayLike) -> np.ndarray:
    """Binary (N, C) targets: vote shares above 1/C (binary labels are returned unchanged)."""
    y = np.asarray(y_true)
    return _classification_inputs(y, np.zeros(y.shape))[0]


# --------------------------------------------------------------------------------- per-clip statistics


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    return np.divide(numerator, denominator, out=np.zeros(numerator.shape), where=denominator > 0)


def _bin_index(probs: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bin of each probability: bin b is (b/M, (b+1)/M], and p = 0 falls in bin 0."""
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.digitize(probs, inner_edges, right=True)


@dataclass(frozen=True)
class ClipStatistics:
    """Additive per-clip statistics from which every classification score follows.

    ``calibration_gap[i, b]`` is the sum over classes of (p − y) for clip i's probabilities falling in ECE bin b,
    so the ECE of any weighted multiset of clips is ``sum_b |w @ gap[:, b]| / (sum(w) · C)``:
    n_b · |mean p − mean y| equals |Σp − Σy| within a bin.
    """

    tp: np.ndarray  # (N, C) float 0/1
    fp: np.ndarray  # (N, C)
    fn: np.ndarray  # (N, C)
    precision: np.ndarray  # (N,) per-clip precision, 0 when nothing is predicted
    squared_error: np.ndarray  # (N,) sum over classes of (p − y)²
    calibration_gap: np.ndarray  # (N, n_bins)

    @property
    def n_clips(self) -> int:
        return self.tp.shape[0]

    @property
    def n_classes(self) -> int:
        return self.tp.shape[1]

    def scores(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Scores of the multiset where clip i counts ``weights[..., i]`` times.

        ``weights`` is (N,) for the plain test set (all ones) or (B, N) bootstrap counts; every returned array
        has the leading shape of ``weights`` without its last axis (plus C for ``per_class_f1``).
        """
        tp, fp, fn = weights @ self.tp, weights @ self.fp, weights @ self.fn
        total = weights.sum(axis=-1)
        per_class = _safe_divide(2 * tp, 2 * tp + fp + fn)
        support = tp + fn
        tp_all, fp_all, fn_all = tp.sum(-1), fp.sum(-1), fn.sum(-1)
        return {
            MACRO_F1: per_class.mean(axis=-1),
            MICRO_F1: _safe_divide(2 * tp_all, 2 * tp_all + fp_all + fn_all),
            WEIGHTED_F1: _safe_divide((support * per_class).sum(-1), support.sum(-1)),
            SAMPLE_PRECISION: (weights @ self.precision) / total,
            BRIER: (weights @ self.squared_error) / (total * self.n_classes),
            ECE: np.abs(weights @ self.calibration_gap).sum(-1) / (total * self.n_classes),
            PER_CLASS_F1: per_class,
        }


def clip_statistics(
    y_true: ArrayLike, probs: ArrayLike, threshold: float | str | None = None, n_bins: int = ECE_BINS
) -> ClipStatistics:
    """Validate the inputs and build the per-clip statistics (see the module docstring)."""
    target, p = _classification_inputs(y_true, probs)
    n_clips, n_classes = p.shape
    predicted = _decide(p, threshold)
    tp = (predicted & target).astype(np.float64)
    fp = (predicted & ~target).astype(np.float64)
    fn = (~predicted & target).astype(np.float64)
    error = p - target
    flat_bin = np.arange(n_clips)[:, None] * n_bins + _bin_index(p, n_bins)
    gap = np.bincount(flat_bin.ravel(), weights=error.ravel(), minlength=n_clips * n_bins).reshape(n_clips, n_bins)
    return ClipStatistics(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=_safe_divide(tp.sum(1), predicted.sum(1)),
        squared_error=(error**2).sum(1),
        calibration_gap=gap,
    )


def _as_python(values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """0-d arrays become floats so results serialise cleanly; arrays stay arrays."""
    return {key: float(value) if np.ndim(value) == 0 else np.asarray(value) for key, value in values.items()}


def classification_scores(y_true: ArrayLike, probs: ArrayLike, threshold: float | str | None = None
                          ) -> dict[str, Any]:
    """All classification scores of one model on one test set.

    Returns macro-, micro- and weighted-F1 (scikit-learn ``f1_score`` semantics, zero_division=0),
    ``sample_precision`` (``precision_score(average='samples', zero_division=0)``: a clip with no predicted
    emotion scores 0), ``brier`` (RAVER Section IV-C2: mean over all N·C entries of (p − y)²), ``ece`` (expected
    calibration error treating each of the N·C (p, y) pairs as one binary prediction, 15 equal-width bins
    (b/15, (b+1)/15]: Σ_b n_b/(N·C) · |mean p_b − mean y_b|) and ``per_class_f1`` (array of C).
    """
    stats = clip_statistics(y_true, probs, threshold)
    return _as_python(stats.scores(np.ones(stats.n_clips)))


class ReliabilityCurve(NamedTuple):
    """Per-bin mean confidence, observed frequency and count; NaN confidence/accuracy for empty bins."""

    edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # (n_bins,)
    accuracy: np.ndarray  # (n_bins,)
    count: np.ndarray  # (n_bins,) int


def reliability_curve(y_true: ArrayLike, probs: ArrayLike, n_bins: int = ECE_BINS) -> ReliabilityCurve:
    """Reliability diagram data over all N·C (p, y) pairs, with the same bins as ``ece``."""
    if n_bins < 1:
        raise UserError(f"n_bins must be at least 1; got {n_bins}")
    target, p = _classification_inputs(y_true, probs)
    bins = _bin_index(p, n_bins).ravel()
    count = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p.ravel(), minlength=n_bins)
    sum_y = np.bincount(bins, weights=target.ravel().astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ReliabilityCurve(np.linspace(0.0, 1.0, n_bins + 1), sum_p / count, sum_y / count, count)


# ------------------------------------------------------------------------------------------ attributes


def _attribute_inputs(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise UserError(f"labels shape {t.shape} does not match predictions shape {p.shape}")
    if t.ndim not in (1, 2):
        raise UserError(f"CCC needs 1-D or (clips, attributes) arrays; got shape {t.shape}")
    if t.shape[0] < 2:
        raise UserError(f"CCC needs at least 2 clips; got {t.shape[0]}")
    _finite("labels", t)
    _finite("predictions", p)
    return t, p


def weighted_ccc(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Column-wise CCC of (N, K) arrays where clip i counts ``weights[..., i]`` times (NaN where undefined).

    Population moments from weighted sums, so (B, N) bootstrap counts give all B×K values in five products.
    Both columns are shifted by the same constant first: that leaves CCC unchanged (it depends on the mean
    *difference*) and keeps the one-pass variance formula away from cancellation.
    """
    shift = y_true.mean(axis=0)
    t, p = y_true - shift, y_pred - shift
    total = weights.sum(axis=-1)[..., None]
    mean_t, mean_p = (weights @ t) / total, (weights @ p) / total
    var_t = (weights @ (t * t)) / total - mean_t**2
    var_p = (weights @ (p * p)) / total - mean_p**2
    cov = (weights @ (t * p)) / total - mean_t * mean_p
    denominator = var_t + var_p + (mean_t - mean_p) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * cov / denominator, np.nan)


def ccc(y_true: ArrayLike, y_pred: ArrayLike) -> float | np.ndarray:
    """Lin's concordance correlation 2·cov/(σ_t² + σ_p² + (μ_t − μ_p)²) with population statistics.

    1-D inputs give a float; (N, K) inputs give one value per column. As in the audio-text authors' evaluation,
    it is computed once over the whole (de-normalised) test set.
    """
    t, p = _attribute_inputs(y_true, y_pred)
    values = weighted_ccc(t.reshape(len(t), -1), p.reshape(len(p), -1), np.ones(len(t)))
    if np.any(np.isnan(values)):
        raise UserError("CCC is undefined when labels and predictions are both constant and equal")
    return float(values[0]) if t.ndim == 1 else values


def attribute_inputs(
    y_true: ArrayLike, y_pred: ArrayLike, names: Sequence[str] = ATTRIBUTE_NAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 (N, K) label and prediction arrays, one column per name in ``names``."""
    t, p = _attribute_inputs(y_true, y_pred)
    if t.ndim != 2 or t.shape[1] != len(names):
        raise UserError(f"expected (clips, {len(names)}) arrays for attributes {tuple(names)}; got shape {t.shape}")
    return t, p


def attribute_scores(
    y_true: ArrayLike, y_pred: ArrayLike, names: Sequence[str] = ATTRIBUTE_NAMES
) -> dict[str, float]:
    """``ccc_<name>`` per column plus their mean (:data:`CCC_MEAN`); column order follows ``names``."""
    values = ccc(*attribute_inputs(y_true, y_pred, names))
    scores = {ccc_key(name): float(value) for name, value in zip(names, values)}
    scores[CCC_MEAN] = float(np.mean(values))
    return scores


def flatten_scores(scores: Mapping[str, Any], emotions: Sequence[str]) -> dict[str, Any]:
    """Flat results-file row: ``per_class_f1`` becomes one ``f1_<emotion>`` key per emotion.

    Works on :func:`classification_scores` output (values become floats) and on bootstrap intervals, where each
    value is a ``(point, low, high)`` tuple whose per-class members are arrays (values become float triples).
    """
    flat: dict[str, Any] = {}
    for key, value in scores.items():
        if key != PER_CLASS_F1:
            flat[key] = tuple(float(v) for v in value) if isinstance(value, tuple) else float(value)
            continue
        members = value if isinstance(value, tuple) else (value,)
        if any(np.shape(member) != (len(emotions),) for member in members):
            raise UserError(f"per-class F1 has {np.shape(members[0])} values but {len(emotions)} emotions were named")
        for index, emotion in enumerate(emotions):
            picked = tuple(float(member[index]) for member in members)
            flat[f1_key(emotion)] = picked if isinstance(value, tuple) else picked[0]
    return flat
