"""One-number summaries of a robustness sweep (score against corruption level).

A *curve* is a pair ``(x, y)``: the corruption levels on their real axis (missing-frame ratio, approximate
fraction of dropped frames, ...) and the score at each level. Points may come in any order; they are sorted by x.
The clean condition is the point with the smallest x.

* :func:`area_under_curve` — trapezoid area over the real level axis divided by the x range, i.e. the mean score
  over the swept range. Using the real axis matters for sweeps with uneven steps (RAVER's 0–90 % in steps of 10
  then 1 % steps up to 100 %), where MultiBench's fixed 0.1 spacing would overweight the dense end.
* :func:`relative_robustness` — that mean score divided by the clean score: 1 means no loss at all.
* :func:`effective_robustness` — the gap to a *declared baseline* at the same clean score (Taori et al., 2020,
  "Measuring robustness to natural distribution shifts"; MultiBench, Liang et al., 2021). The baseline curve is
  shifted vertically so that its clean score equals the model's, and the model's mean advantage over that
  shifted curve is reported:

      ER = AUC(model) − [AUC(baseline) + (clean(model) − clean(baseline))]
         = (AUC(model) − clean(model)) − (AUC(baseline) − clean(baseline)),

  i.e. how much less the model loses on average than the baseline. Positive = more robust than the baseline
  beyond what its clean score explains. MultiBench sums the same pointwise gap over a fixed 0.1-spaced grid and
  hard-codes its late-fusion baseline numbers; here the baseline is always passed in as data (a measured run),
  and the gap is averaged over the real level axis.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from avbench.errors import UserError

Curve = tuple[ArrayLike, ArrayLike]


def _sorted_curve(x: ArrayLike, y: ArrayLike, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise UserError(f"a curve needs 1-D x and y of equal length; got shapes {xs.shape} and {ys.shape}")
    if len(xs) < 2:
        raise UserError(f"a curve needs at least 2 levels; got {len(xs)}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise UserError("curve levels and scores must be finite")
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    if not ties and np.any(np.diff(xs) == 0):
        raise UserError(f"curve has repeated levels: {sorted(set(xs[1:][np.diff(xs) == 0].tolist()))}")
    return xs, ys


def area_under_curve(x: ArrayLike, y: ArrayLike) -> float:
    """Mean score over the sweep: trapezoid area on the real x axis divided by (max x − min x)."""
    xs, ys = _sorted_curve(x, y)
    return float(curve_area(xs, ys))


def relative_robustness(auc: float, clean: float) -> float:
    """Mean score over the sweep as a fraction of the clean score (1 = no degradation)."""
    if not (np.isfinite(auc) and np.isfinite(clean)) or clean == 0:
        raise UserError(f"relative robustness needs a finite area and a non-zero clean score; got {auc}, {clean}")
    return float(auc) / float(clean)


def effective_robustness(model_curve: Curve, baseline_curve: Curve) -> float:
    """Mean gap to the baseline shifted to the model's clean score (see the module docstring).

    Both curves must be measured at the same levels, so the comparison is point for point. Levels sharing an x
    (the three 50 % Markov settings) are averaged as :func:`curve_area` does; the clean score is the first point
    at the smallest x. This is the one implementation: run summaries and leaderboards call it.
    """
    model_x, model_y = _sorted_curve(*model_curve, ties=True)
    base_x, base_y = _sorted_curve(*baseline_curve, ties=True)
    if model_x.shape != base_x.shape or not np.array_equal(model_x, base_x):
        raise UserError("model and baseline curves must be measured at the same levels")
    return effective_gap(float(curve_area(model_x, model_y)), model_y[0], float(curve_area(base_x, base_y)),
                         base_y[0])


def effective_gap(score: float, clean: float, baseline_score: float, baseline_clean: float) -> float:
    """ER from one-number summaries: (score − clean) of the model minus that of the baseline, where ``score`` is
    the mean score over the same conditions for both (the sweep's area, or a categorical corruption's mean over
    its shared conditions)."""
    return float((score - clean) - (baseline_score - baseline_clean))


def curve_area(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Unvalidated, vectorised :func:`area_under_curve` for y of shape (L,) or (L, B) (B bootstrap resamples).

    Levels sharing an x value (the three 50 % Markov settings) are averaged first, so the axis stays a function.
    """
    xs = np.unique(x)
    ys = np.stack([y[x == v].mean(axis=0) for v in xs])
    if len(xs) == 1:
        return ys[0]
    widths = np.diff(xs).reshape(-1, *([1] * (ys.ndim - 1)))
    return ((ys[1:] + ys[:-1]) / 2 * widths).sum(axis=0) / (xs[-1] - xs[0])
