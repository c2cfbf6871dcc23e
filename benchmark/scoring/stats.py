"""Uncertainty and significance: clip bootstrap, paired bootstrap, t-tests, the 5×5 subset protocol, Holm.

Bootstrap resamples are drawn over *clips* from ``np.random.default_rng(seed)`` as one (B, N) index matrix and
turned into per-clip counts; every score is then a weighted sum of per-clip statistics
(:class:`avbench.scoring.metrics.ClipStatistics`, :func:`avbench.scoring.metrics.weighted_ccc`), so all resamples of all metrics
cost a handful of matrix products. Memory is O(B·N) (1000 × 1500 clips ≈ 24 MB).

Intervals are percentile intervals; point estimates are the plain test-set scores from :mod:`avbench.scoring.metrics`,
never the bootstrap mean, so a results file's point value is the same with or without intervals.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from avbench.errors import UserError, unknown
from avbench.scoring.significance import ALPHA
from avbench.scoring.metrics import (
    ATTRIBUTE_NAMES,
    CCC_MEAN,
    CLASSIFICATION_METRICS,
    MACRO_F1,
    attribute_distribution,
    attribute_inputs,
    attribute_scores,
    ccc,
    ccc_key,
    classification_scores,
    clip_statistics,
)

Interval = tuple[Any, Any, Any]  # (point, low, high); floats, or arrays for per-class keys
T_TEST_KINDS = ("student", "welch", "paired")


# ------------------------------------------------------------------------------------------- resampling


def _check_resamples(n_resamples: int) -> None:
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise UserError(f"n_resamples must be a positive integer; got {n_resamples}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise UserError(f"confidence must lie strictly between 0 and 1; got {confidence}")


def resample_indices(n_clips: int, n_resamples: int, seed: int) -> np.ndarray:
    """(B, N) clip indices drawn with replacement; row b is resample b. Same seed, same matrix."""
    return np.random.default_rng(seed).integers(0, n_clips, size=(n_resamples, n_clips))


def resample_counts(indices: np.ndarray, n_clips: int) -> np.ndarray:
    """(B, N) float counts: how many times resample b drew clip i (one bincount for all rows)."""
    n_resamples = indices.shape[0]
    offsets = np.arange(n_resamples)[:, None] * n_clips
    flat = np.bincount((indices + offsets).ravel(), minlength=n_resamples * n_clips)
    return flat.reshape(n_resamples, n_clips).astype(np.float64)


def _counts(n_clips: int, n_resamples: int, seed: int) -> np.ndarray:
    _check_resamples(n_resamples)
    return _shared_counts(n_clips, n_resamples, seed)


@functools.lru_cache(maxsize=4)
def _shared_counts(n_clips: int, n_resamples: int, seed: int) -> np.ndarray:
    """The count matrix of (n_clips, n_resamples, seed), drawn once per process: a run scores every model and
    level on the same resamples, and drawing them was half of its scoring time. Read-only, as it is shared."""
    counts = resample_counts(resample_indices(n_clips, n_resamples, seed), n_clips)
    counts.flags.writeable = False
    return counts


def bootstrap_distribution(
    y_true: ArrayLike, probs: ArrayLike, n_resamples: int = 1000, seed: int = 0, threshold: float | str | None = None
) -> dict[str, np.ndarray]:
    """Every classification score on each of B clip resamples: (B,) arrays, (B, C) for ``per_class_f1``."""
    statistics = clip_statistics(y_true, probs, threshold)
    return statistics.scores(_counts(statistics.n_clips, n_resamples, seed))


def ccc_distribution(
    y_true: ArrayLike, y_pred: ArrayLike, n_resamples: int = 1000, seed: int = 0,
    names: Sequence[str] = ATTRIBUTE_NAMES,
) -> dict[str, np.ndarray]:
    """``ccc_<name>`` and their mean (:data:`CCC_MEAN`) on each of B clip resamples, as (B,) arrays."""
    t, p = attribute_inputs(y_true, y_pred, names)
    return attribute_distribution(t, p, _counts(len(t), n_resamples, seed), names)


def intervals(
    point: Mapping[str, Any], distribution: Mapping[str, np.ndarray], confidence: float = 0.95
) -> dict[str, Interval]:
    """Percentile intervals of ``point``'s keys from an already drawn bootstrap ``distribution``."""
    tail = (1.0 - confidence) / 2.0
    out: dict[str, Interval] = {}
    for key, value in point.items():
        low, high = np.nanquantile(distribution[key], [tail, 1.0 - tail], axis=0)
        out[key] = (value, float(low), float(high)) if np.ndim(value) == 0 else (value, low, high)
    return out


def bootstrap_ci(
    y_true: ArrayLike, probs: ArrayLike, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
    threshold: float | str | None = None,
) -> dict[str, Interval]:
    """Percentile bootstrap interval of every classification score: key → (point, low, high).

    Point values are exactly :func:`avbench.scoring.metrics.classification_scores`; ``per_class_f1`` gives three
    arrays of C.
    """
    _check_confidence(confidence)
    point = classification_scores(y_true, probs, threshold)
    return intervals(point, bootstrap_distribution(y_true, probs, n_resamples, seed, threshold), confidence)


def bootstrap_ccc(
    y_true: ArrayLike, y_pred: ArrayLike, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
    names: Sequence[str] = ATTRIBUTE_NAMES,
) -> dict[str, Interval]:
    """Percentile bootstrap interval of each attribute's CCC and their mean: key → (point, low, high).

    NaN resamples (constant labels and predictions, only possible for tiny test sets) are ignored.
    """
    _check_confidence(confidence)
    point = attribute_scores(y_true, y_pred, names)
    return intervals(point, ccc_distribution(y_true, y_pred, n_resamples, seed, names), confidence)


# ------------------------------------------------------------------------------------ paired bootstrap


def _paired_summary(
    difference: float, distribution: np.ndarray, confidence: float
) -> tuple[float, float, float, float]:
    """(diff, low, high, p). Two-sided p = 2·min(P*(d ≤ 0), P*(d ≥ 0)), capped at 1.

    This is the p-value that matches the percentile interval: up to quantile interpolation, p < 1 − confidence
    exactly when 0 lies outside the interval. Its resolution is 2/B, so p = 0 means p < 2/B.
    """
    tail = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(distribution, [tail, 1.0 - tail])
    return float(difference), float(low), float(high), paired_p_value(distribution)


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p of paired differences: 2·min(P*(d ≤ 0), P*(d ≥ 0)), capped at 1, NaN resamples
    ignored: the paired clip bootstrap's p (``avbench compare-loss``'s signal-vs-feature comparisons; rankings use
    :func:`seed_paired_test`)."""
    d = np.asarray(differences, dtype=np.float64)
    valid = d[~np.isnan(d)]
    return float(min(1.0, 2.0 * min(np.mean(valid <= 0), np.mean(valid >= 0))))


def seed_clip_bootstrap(per_seed: np.ndarray, seed: int) -> np.ndarray:
    """Hierarchical bootstrap over training seeds and clips: (S, ..., B) → (..., B). No longer used for any interval
    or test: kept as the baseline of the null simulation (:mod:`avbench.scoring.null_size`), which shows why.

    ``per_seed[s, ..., b]`` is seed s's score on clip resample b (the same clip resamples for every seed and every
    model). Resample b then also draws S seeds with replacement and averages their scores on clip resample b. With
    few seeds this underestimates the between-seed variance — it shrinks it by (S − 1)/S, its percentiles act as
    normal rather than t quantiles, and it has a handful of distinct seed means — so a test built on it is far too
    liberal (2 seeds: about 0.3 false positives at 0.05); :func:`seed_paired_test` is the test that replaced it.
    The seed draws come from ``seed`` alone, so every model is resampled on the same seeds and clips. With one seed
    it returns that seed's distribution unchanged.
    """
    scores = np.asarray(per_seed, dtype=np.float64)
    n_seeds, n_resamples = scores.shape[0], scores.shape[-1]
    if n_seeds == 1:
        return scores[0]
    draws = np.random.default_rng(np.random.SeedSequence([seed, n_seeds, n_resamples])).integers(
        0, n_seeds, size=(n_resamples, n_seeds))
    columns = np.arange(n_resamples)
    return np.mean([np.moveaxis(scores[draws[:, k], ..., columns], 0, -1) for k in range(n_seeds)], axis=0)


def _per_seed(scores: ArrayLike, name: str) -> np.ndarray:
    """(..., S, B) float array: a model's score per training seed (rows) on each clip resample (columns); a 1-D
    (B,) array is one seed."""
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim < 2 or array.shape[-1] < 2:
        raise UserError(f"{name} must be (seeds, resamples) with at least 2 resamples; got shape {array.shape}")
    return array


def _seed_points(points: ArrayLike | None, scores: np.ndarray, name: str) -> np.ndarray:
    """(..., S) per-seed test-set scores; without them, each seed's mean over its resamples."""
    if points is None:
        return scores.mean(axis=-1)
    array = np.asarray(points, dtype=np.float64)
    if array.shape != scores.shape[:-1]:
        raise UserError(f"{name} must hold one score per seed, shape {scores.shape[:-1]}; got {array.shape}")
    return array


def _within_seed(scores: np.ndarray) -> np.ndarray:
    """The part of the bootstrap variance of the seed mean that is *not* shared by the seeds: (v̄ − C)/S, where v̄
    is the mean clip-resampling variance of one seed and C the mean covariance between two seeds' resampled
    scores (the test set they share). It is zero for one seed, whose whole variance is the test set's."""
    n_seeds, n_resamples = scores.shape[-2], scores.shape[-1]
    if n_seeds == 1:
        return np.zeros(scores.shape[:-2])
    centred = scores - scores.mean(axis=-1, keepdims=True)
    seed_means = centred.mean(axis=-2)
    var_of_mean = (seed_means ** 2).sum(axis=-1) / (n_resamples - 1)  # = v̄/S + C·(S − 1)/S
    mean_var = (centred ** 2).sum(axis=-1).mean(axis=-1) / (n_resamples - 1)  # v̄
    shared = (n_seeds * var_of_mean - mean_var) / (n_seeds - 1)  # C
    return (mean_var - shared) / n_seeds


def interaction_sd(scores: np.ndarray) -> np.ndarray:
    """The SD of the seed × clip part of one model's score — retraining that shows as other errors on the same
    clips — from its (S, B) resampled scores: √(v̄ − C), S × :func:`_within_seed` (zero for one seed)."""
    return np.sqrt(np.maximum(0.0, scores.shape[-2] * _within_seed(scores)))


def test_set_variance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The test set's variance of the difference of two models' seed means, shared by their seeds: the bootstrap
    variance of the resampled difference less the seed × clip part each seed mean still carries (≥ 0)."""
    resampled = a.mean(axis=-2) - b.mean(axis=-2)
    return np.maximum(0.0, resampled.var(axis=-1, ddof=1) - _within_seed(a) - _within_seed(b))


def seed_test_parts(a: ArrayLike, b: ArrayLike, point_a: ArrayLike | None = None, point_b: ArrayLike | None = None,
                    seed_sd_a: float | None = None, seed_sd_b: float | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The difference of seed means A − B, its standard error and its degrees of freedom (inf: normal), for
    :func:`seed_paired_test`; vectorised over leading axes (the null simulation tests thousands at once).

    The variance of the difference of seed means has two parts. The test set is shared by every seed of both
    models, so its part is paired: the bootstrap variance of the resampled difference of seed means. Retraining
    is not: each model contributes its between-seed variance s²/S, estimated from its S per-seed test-set scores
    with S − 1 degrees of freedom (Welch; the seeds of two models are independent trainings, and may differ in
    number). The bootstrap variance already holds the part of retraining that shows on a fixed test set (seeds
    erring on different clips), which s² holds too; that part, (v̄ − C)/S, is taken out of the bootstrap term so
    it is counted once. The degrees of freedom are Welch–Satterthwaite's: S − 1 per model's between-seed
    variance (taken at its median-unbiased value s²·(S − 1)/χ²₍S−1₎,₀.₅ for them) and B − 1 for the bootstrap's
    test-set part; so about S − 1 when retraining dominates, and about B − 1 (nearly normal) when the test set
    does.

    A model with one seed has no between-seed variance to estimate: its term is the test set's alone, unless its
    retraining SD is known from elsewhere (``seed_sd_*``, counted as known).
    """
    from scipy import special  # deferred: scipy (0.4 s to import; evaluation workers import this module)

    sa, sb = _per_seed(a, "a"), _per_seed(b, "b")
    if sa.shape[-1] != sb.shape[-1]:
        raise UserError(f"a and b must be scored on the same clip resamples; got {sa.shape[-1]} and {sb.shape[-1]}")
    pa, pb = _seed_points(point_a, sa, "point_a"), _seed_points(point_b, sb, "point_b")
    difference = pa.mean(axis=-1) - pb.mean(axis=-1)
    test_set = test_set_variance(sa, sb)
    # the test-set part is estimated from B resamples: B − 1 degrees of freedom (Monte Carlo error of the bootstrap)
    variance, for_df, welch = test_set, test_set, test_set ** 2 / (sa.shape[-1] - 1)
    for points, known in ((pa, seed_sd_a), (pb, seed_sd_b)):
        n_seeds = points.shape[-1]
        if n_seeds > 1:
            term = points.var(axis=-1, ddof=1) / n_seeds
            variance = variance + term
            # the df take each between-seed variance at its median-unbiased value: with the unbiased plug-in, the
            # df grow exactly when a seed variance is underestimated (2 seeds: size 0.06–0.07 instead of 0.04–0.06)
            median = term * (n_seeds - 1) / special.chdtri(n_seeds - 1, 0.5)
            for_df = for_df + median
            welch = welch + median ** 2 / (n_seeds - 1)
        elif known is not None:
            variance = variance + float(known) ** 2
            for_df = for_df + float(known) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(welch > 0, for_df ** 2 / np.where(welch > 0, welch, 1.0), np.inf)
    return difference, np.sqrt(variance), df


def t_quantile(df: ArrayLike, q: float) -> np.ndarray:
    """Student's t quantile, the normal one where df is infinite."""
    from scipy import special  # deferred: scipy (0.4 s to import; evaluation workers import this module)

    d = np.asarray(df, dtype=np.float64)
    return np.where(np.isinf(d), special.ndtri(q), special.stdtrit(np.where(np.isinf(d), 1.0, d), q))


def t_p_value(difference: ArrayLike, se: ArrayLike, df: ArrayLike) -> np.ndarray:
    """Two-sided p of difference / se under Student's t with ``df`` (normal where infinite); 1 where se = 0
    and the difference is 0, 0 where se = 0 and it is not."""
    from scipy import special  # deferred: scipy (0.4 s to import; evaluation workers import this module)

    d, s, v = (np.asarray(x, dtype=np.float64) for x in (difference, se, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, np.abs(d) / np.where(s > 0, s, 1.0), np.where(d == 0, 0.0, np.inf))
    tail = np.where(np.isinf(v), special.ndtr(-z), special.stdtr(np.where(np.isinf(v), 1.0, v), -z))
    return np.minimum(1.0, 2.0 * tail)


def t_interval(difference: float, se: float, df: float, confidence: float = 1.0 - ALPHA) -> tuple[float, float, float]:
    """(low, high, p) of a difference with standard error ``se`` under Student t with ``df``: the interval
    difference ± t·se at ``confidence`` and the matching two-sided p, so p < 1 − confidence exactly when the
    interval excludes zero. Every seed-aware interval and p (tests, seed means, protocol effects) comes from here."""
    half = float(t_quantile(df, 0.5 + confidence / 2.0) * se)
    return float(difference) - half, float(difference) + half, float(t_p_value(difference, se, df))


def seed_paired_test(a: ArrayLike, b: ArrayLike, point_a: ArrayLike | None = None, point_b: ArrayLike | None = None,
                     confidence: float = 1.0 - ALPHA, seed_sd_a: float | None = None,
                     seed_sd_b: float | None = None) -> tuple[float, float, float, float]:
    """Seed-aware paired test of model A against model B: (difference, low, high, p).

    ``a`` is (S_a, B): seed s of A scored on each of B clip resamples, ``b`` (S_b, B) on the *same* resamples (a
    1-D array is one seed); ``point_a``/``point_b`` are the per-seed scores on the whole test set (default: each
    seed's resample mean). The difference is mean(point_a) − mean(point_b); its standard error carries both the
    test set (paired through the shared resamples) and retraining (between-seed variance, Student t with
    Welch–Satterthwaite degrees of freedom; see :func:`seed_test_parts`). The interval is difference ± t·se, and
    p the matching two-sided t p-value, so p < 1 − confidence exactly when the interval excludes zero.

    Chosen by null simulation (``python -m avbench.scoring.null_size``): its false-positive rate at 0.05 stays
    within 0.03–0.07 for 2–10 seeds whether seeds, clips or both dominate, where the hierarchical bootstrap
    (:func:`seed_clip_bootstrap`) gave up to 0.3 with two seeds. With one seed per model it is the paired clip
    bootstrap in normal form: it covers the test set only.
    """
    _check_confidence(confidence)
    difference, se, df = seed_test_parts(a, b, point_a, point_b, seed_sd_a, seed_sd_b)
    if difference.ndim:
        raise UserError("seed_paired_test compares two models; use seed_test_parts for batches")
    return (float(difference), *t_interval(float(difference), se, df, confidence))


def seed_interval(scores: ArrayLike, points: ArrayLike | None = None, confidence: float = 1.0 - ALPHA
                  ) -> tuple[float, float, float]:
    """One model's seed-mean score with the interval of :func:`seed_paired_test` (against a constant): (mean,
    low, high). With one seed it is that seed's percentile clip-bootstrap interval, as in ``results.csv``."""
    _check_confidence(confidence)
    per_seed = _per_seed(scores, "scores")
    if per_seed.ndim != 2:
        raise UserError(f"scores must be (seeds, resamples); got shape {per_seed.shape}")
    seed_points = _seed_points(points, per_seed, "points")
    if per_seed.shape[0] == 1:
        tail = (1.0 - confidence) / 2.0
        low, high = np.nanquantile(per_seed[0], [tail, 1.0 - tail])
        return float(seed_points[0]), float(low), float(high)
    mean, se, df = seed_test_parts(per_seed, np.zeros((1, per_seed.shape[-1])), seed_points, np.zeros(1))
    low, high, _ = t_interval(float(mean), se, df, confidence)
    return float(mean), low, high


def probability_of_improvement(a: ArrayLike, b: ArrayLike, higher_is_better: bool = True) -> float:
    """P(A beats B), as rliable's probability of improvement (Agarwal et al., NeurIPS 2021) with clip resamples
    in place of tasks: the chance that a training run of A (a random seed) scores better than a run of B on the
    same resampled test set, ties counting one half. ``a`` (S_a, B) and ``b`` (S_b, B) share their resamples.
    With one seed each it is the fraction of test-set resamples on which A is ahead."""
    sa, sb = _per_seed(a, "a"), _per_seed(b, "b")
    if sa.ndim != 2 or sb.ndim != 2 or sa.shape[-1] != sb.shape[-1]:
        raise UserError(f"a and b must be (seeds, resamples) on the same resamples; got {sa.shape} and {sb.shape}")
    gap = sa[:, None, :] - sb[None, :, :]
    if not higher_is_better:
        gap = -gap
    return float(np.mean((gap > 0) + 0.5 * (gap == 0)))


def paired_bootstrap(
    y_true: ArrayLike, probs_a: ArrayLike, probs_b: ArrayLike, metric: str = MACRO_F1, n_resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0, threshold: float | str | None = None,
) -> tuple[float, float, float, float]:
    """Score of model A minus model B on the same clips, resampled jointly: (diff, low, high, p_value).

    Both models see the same resampled clips in every resample, which is what makes the test paired: clip
    difficulty cancels. The sign is always A − B; for ``brier``/``ece`` a negative difference favours A.
    """
    if metric not in CLASSIFICATION_METRICS:
        raise unknown("classification metric", metric, CLASSIFICATION_METRICS)
    _check_confidence(confidence)
    stats_a = clip_statistics(y_true, probs_a, threshold)
    stats_b = clip_statistics(y_true, probs_b, threshold)
    counts = _counts(stats_a.n_clips, n_resamples, seed)
    difference = classification_scores(y_true, probs_a, threshold)[metric] - classification_scores(
        y_true, probs_b, threshold
    )[metric]
    distribution = stats_a.scores(counts)[metric] - stats_b.scores(counts)[metric]
    return _paired_summary(difference, distribution, confidence)


def paired_bootstrap_ccc(
    y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike, metric: str = CCC_MEAN, n_resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0, names: Sequence[str] = ATTRIBUTE_NAMES,
) -> tuple[float, float, float, float]:
    """CCC of model A minus model B on the same resampled clips: (diff, low, high, p_value)."""
    keys = [ccc_key(name) for name in names] + [CCC_MEAN]
    if metric not in keys:
        raise unknown("attribute metric", metric, keys)
    _check_confidence(confidence)
    t, p_a = attribute_inputs(y_true, pred_a, names)
    p_b = attribute_inputs(y_true, pred_b, names)[1]
    difference = attribute_scores(t, p_a, names)[metric] - attribute_scores(t, p_b, names)[metric]
    counts = _counts(len(t), n_resamples, seed)
    distribution = attribute_distribution(t, p_a, counts, names)[metric] - attribute_distribution(t, p_b, counts, names)[metric]
    return _paired_summary(difference, distribution, confidence)


# -------------------------------------------------------------------------------------------- t-tests


def _sample(name: str, values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or len(array) < 2:
        raise UserError(f"{name} must be a 1-D sample of at least 2 values; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise UserError(f"{name} contains NaN or inf")
    return array


def t_test(a: ArrayLike, b: ArrayLike, kind: str = "student") -> tuple[float, float]:
    """Two-tailed t-test of mean(a) vs mean(b): (t, p) from scipy.

    ``student``: independent samples, pooled variance; ``welch``: independent, unequal variances;
    ``paired``: a[i] and b[i] measured on the same unit (same seed and subset). Zero-variance samples give NaN,
    as scipy does; NaN never counts as significant.
    """
    if kind not in T_TEST_KINDS:
        raise unknown("t-test kind", kind, T_TEST_KINDS)
    from scipy import stats as scipy_stats  # deferred: scipy

    x, y = _sample("first sample", a), _sample("second sample", b)
    if kind == "paired":
        if len(x) != len(y):
            raise UserError(f"a paired t-test needs equal-length samples; got {len(x)} and {len(y)}")
        result = scipy_stats.ttest_rel(x, y)
    else:
        result = scipy_stats.ttest_ind(x, y, equal_var=kind == "student")
    return float(result.statistic), float(result.pvalue)


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (0-based) of m becomes max over j ≤ i of (m − j)·p_(j), capped at 1:
    monotone in p, and rejecting adjusted p < α controls the family-wise error rate at α.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise UserError(f"p-values must be a 1-D array; got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise UserError("p-values must be finite and lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def holm_levels(p_values: ArrayLike, alpha: float = ALPHA) -> np.ndarray:
    """Per-hypothesis significance levels that make intervals agree with Holm's decisions, in the input order.

    Holm tests the i-th smallest of m p-values at α/(m − i) (0-based i) and stops at the first it keeps. The
    i-th gets level α/(m − i) up to that first kept one, j*, and α/(m − j*) from there on: a (1 − level)
    interval then excludes zero exactly when Holm rejects — before j* because p_(i) < α/(m − i), from j* on
    because p_(i) ≥ p_(j*) ≥ α/(m − j*).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise UserError(f"p-values must be a 1-D array; got shape {p.shape}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = alpha / (m - np.arange(m))
    kept = np.nonzero(p[order] >= steps)[0]
    if len(kept):
        steps[kept[0]:] = steps[kept[0]]
    levels = np.empty(m)
    levels[order] = steps
    return levels


# ------------------------------------------------------------------------------ 5 seeds × 5 subsets


def subset_indices(n_clips: int, n_subsets: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Split clip positions into ``n_subsets`` disjoint, near-equal subsets (sizes differ by at most one).

    The split is a seeded permutation, so it depends only on (n_clips, seed): every system and every training
    run is scored on the same subsets, provided their per-clip outputs are in the same clip order.
    """
    if n_subsets < 1 or n_clips < n_subsets:
        raise UserError(f"cannot split {n_clips} clips into {n_subsets} subsets")
    return np.array_split(np.random.default_rng(seed).permutation(n_clips), n_subsets)


def subset_points(
    y_true: ArrayLike, y_pred: ArrayLike, n_subsets: int = 5, seed: int = 0,
    score: Callable[[np.ndarray, np.ndarray], Any] = ccc,
) -> np.ndarray:
    """The audio-text paper's testing points: ``score`` on each of ``n_subsets`` equal test subsets.

    Returns (n_subsets,) for a scalar score, or (n_subsets, K) for the default column-wise CCC of (N, K)
    attributes. Pass e.g. ``lambda y, p: classification_scores(y, p)[MACRO_F1]`` for classification.
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if len(t) != len(p):
        raise UserError(f"labels have {len(t)} clips but predictions have {len(p)}")
    subsets = subset_indices(len(t), n_subsets, seed)
    return np.stack([np.asarray(score(t[idx], p[idx]), dtype=np.float64) for idx in subsets])


def protocol_points(
    runs: Sequence[tuple[ArrayLike, ArrayLike]], n_subsets: int = 5, seed: int = 0,
    score: Callable[[np.ndarray, np.ndarray], Any] = ccc,
) -> np.ndarray:
    """All testing points of one system: ``runs`` is one (y_true, y_pred) per training seed.

    5 runs × 5 subsets give the paper's 25 points (run-major order). Every run must carry the same test labels
    in the same clip order, otherwise its subsets would not be the other runs' subsets.
    """
    if not runs:
        raise UserError("no runs to score")
    reference = np.asarray(runs[0][0])
    for number, (y_true, _) in enumerate(runs):
        if not np.array_equal(np.asarray(y_true), reference):
            raise UserError(f"run {number} has different test labels from run 0; align outputs by clip id first")
    return np.concatenate([subset_points(t, p, n_subsets, seed, score) for t, p in runs])


def significance_markers(
    system: ArrayLike, baselines: Sequence[ArrayLike], markers: Sequence[str] = ("*", "†"), alpha: float = ALPHA,
    kind: str = "student", higher_is_better: bool = True, holm_correction: bool = False,
) -> str:
    """The paper's marker string: marker k when ``system`` is significantly better than ``baselines[k]``.

    Significantly better = two-tailed t-test p < ``alpha`` on the testing points *and* the system's mean is
    better. The papers do not say which t-test; ``student`` is scipy's default. ``holm_correction`` adjusts the
    p-values across the baselines (not done in the papers). A NaN p (zero-variance points) counts as 1.
    Points are 1-D (one attribute or metric at a time).
    """
    if len(markers) != len(baselines):
        raise UserError(f"{len(baselines)} baselines need {len(baselines)} markers; got {len(markers)}")
    tests = [t_test(system, baseline, kind) for baseline in baselines]
    p_values = np.nan_to_num(np.array([p for _, p in tests]), nan=1.0)
    if holm_correction:
        p_values = holm(p_values)
    sign = 1.0 if higher_is_better else -1.0
    mean = float(np.mean(system))
    better = [sign * (mean - float(np.mean(baseline))) > 0 for baseline in baselines]
    return "".join(m for m, p, b in zip(markers, p_values, better) if b and p < alpha)
