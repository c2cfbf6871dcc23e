"""How much faster the vectorised clip bootstrap is than scoring each resample with ordinary metric calls.

``python -m avbench.speed.bootstrap`` prints the timings. The loop is what a careful user would otherwise write:
for every resample, scikit-learn's ``f1_score`` (macro, micro, weighted, per class) and ``precision_score``
(samples), plus Brier and ECE with numpy (falling back to :func:`avbench.scoring.metrics.classification_scores` per
resample when scikit-learn is not installed). The loop is timed on the first ``loop_resamples`` resamples and
scaled linearly to ``n_resamples`` (each resample costs the same), which the output says. Both paths use the same
resample indices, and the run checks that they agree on the point estimates and on every timed resample.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from avbench.scoring.metrics import (
    BRIER,
    ECE,
    MACRO_F1,
    MICRO_F1,
    PER_CLASS_F1,
    SAMPLE_PRECISION,
    WEIGHTED_F1,
    classification_scores,
    reliability_curve,
)
from avbench.scoring.stats import bootstrap_distribution, resample_indices

AGREEMENT_TOLERANCE = 1e-9  # float summation order differs between the paths; counts themselves are exact
Scorer = Callable[[np.ndarray, np.ndarray, float], dict[str, Any]]


def _sklearn_scorer() -> tuple[str, Scorer]:
    """The per-resample scorer: scikit-learn calls when importable, else avbench's own per-call metrics."""
    try:
        from sklearn.metrics import f1_score, precision_score  # deferred: sklearn
    except ImportError:
        return "avbench.scoring.metrics.classification_scores", lambda y, p, t: classification_scores(y, p, t)

    def score(target: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, Any]:
        predicted = probs > threshold
        curve = reliability_curve(target, probs)
        filled = curve.count > 0
        ece = float(np.sum(curve.count[filled] * np.abs(curve.confidence[filled] - curve.accuracy[filled])))
        return {
            MACRO_F1: f1_score(target, predicted, average="macro", zero_division=0),
            MICRO_F1: f1_score(target, predicted, average="micro", zero_division=0),
            WEIGHTED_F1: f1_score(target, predicted, average="weighted", zero_division=0),
            SAMPLE_PRECISION: precision_score(target, predicted, average="samples", zero_division=0),
            BRIER: float(np.mean((probs - target) ** 2)),
            ECE: ece / target.size,
            PER_CLASS_F1: f1_score(target, predicted, average=None, zero_division=0),
        }

    return "scikit-learn", score


def _synthetic_outputs(n_clips: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vote shares from 10 simulated raters and noisy probabilities that loosely follow them."""
    rng = np.random.default_rng(seed)
    preferences = rng.dirichlet(np.full(n_classes, 0.5), size=n_clips)
    shares = np.stack([rng.multinomial(10, row) for row in preferences]) / 10.0
    probs = np.clip(shares + rng.normal(0.0, 0.25, size=shares.shape), 0.0, 1.0)
    return shares, probs


def _max_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    return max(float(np.max(np.abs(np.asarray(a[key]) - np.asarray(b[key])))) for key in a)


def measure(
    n_clips: int = 1500, n_classes: int = 6, n_resamples: int = 1000, seed: int = 0, loop_resamples: int = 100
) -> dict[str, Any]:
    """Time both paths on synthetic outputs; return timings, the speed-up and the agreement checks."""
    shares, probs = _synthetic_outputs(n_clips, n_classes, seed)
    target = shares > 1.0 / n_classes
    threshold = 1.0 / n_classes
    backend, loop_score = _sklearn_scorer()

    vectorised_times = []
    for _ in range(3):  # best of three: the machine is shared, and the vectorised run is short
        start = time.perf_counter()
        distribution = bootstrap_distribution(shares, probs, n_resamples, seed)
        vectorised_times.append(time.perf_counter() - start)

    timed = min(loop_resamples, n_resamples)
    indices = resample_indices(n_clips, n_resamples, seed)[:timed]
    start = time.perf_counter()
    loop_rows = [loop_score(target[idx], probs[idx], threshold) for idx in indices]
    loop_time = time.perf_counter() - start

    loop_scaled = loop_time * n_resamples / timed
    vectorised = min(vectorised_times)
    vectorised_rows = [{key: values[b] for key, values in distribution.items()} for b in range(timed)]
    point_difference = _max_difference(classification_scores(shares, probs), loop_score(target, probs, threshold))
    resample_difference = max(_max_difference(v, s) for v, s in zip(vectorised_rows, loop_rows))
    return {
        "n_clips": n_clips,
        "n_classes": n_classes,
        "n_resamples": n_resamples,
        "loop_backend": backend,
        "loop_resamples_timed": timed,
        "vectorised_s": vectorised,
        "loop_s_timed": loop_time,
        "loop_s_scaled": loop_scaled,
        "speedup": loop_scaled / vectorised,
        "max_point_difference": point_difference,
        "max_resample_difference": resample_difference,
        "agree": max(point_difference, resample_difference) <= AGREEMENT_TOLERANCE,
    }


def report(result: dict) -> None:
    """Print one run's timings, ratio and agreement check (``avbench speed bootstrap``)."""
    print(f"{result['n_resamples']} resamples of {result['n_clips']} clips × {result['n_classes']} classes")
    print(f"vectorised bootstrap (all metrics): {result['vectorised_s']:.3f} s (best of 3)")
    print(
        f"per-resample loop ({result['loop_backend']}): {result['loop_s_timed']:.3f} s for "
        f"{result['loop_resamples_timed']} resamples, scaled linearly to {result['loop_s_scaled']:.2f} s"
    )
    print(f"speed-up: {result['speedup']:.0f}×")
    print(
        f"agreement: point estimates differ by at most {result['max_point_difference']:.2e}, "
        f"timed resamples by at most {result['max_resample_difference']:.2e} "
        f"({'OK' if result['agree'] else 'MISMATCH'})"
    )

