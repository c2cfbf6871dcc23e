"""Statistics that describe how a corpus looks, shared by the realism report and the reference derivations.

They are computed the same way on the embedded corpus, on an extracted real store and on raw real data, so the
numbers ``avbench datasets realism`` prints side by side are comparable by construction.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

CARDINALITY_BINS = ("1", "2", "3+")


def autocorrelation(clips: Iterable[np.ndarray], lags: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Pooled lag-k autocorrelation of frame features, each clip's channel means removed first.

    ``clips`` yields (frames, channels) arrays. Sums run over every clip and channel, so long clips and
    high-variance channels weigh more, as in a corpus-wide estimate; clips shorter than a lag add nothing to it.
    """
    num = {k: 0.0 for k in lags}
    den = 0.0
    for frames in clips:
        x = np.asarray(frames, np.float64)
        x = x.reshape(len(x), -1) - x.reshape(len(x), -1).mean(axis=0)
        den += float((x * x).sum())
        for k in lags:
            if len(x) > k:
                num[k] += float((x[:-k] * x[k:]).sum())
    return {k: num[k] / den if den > 0 else float("nan") for k in lags}


def label_cardinality(shares: np.ndarray) -> dict[str, float]:
    """Share of clips with 1, 2 and 3+ emotions whose vote share exceeds 1/C (clips with none are left out)."""
    shares = np.asarray(shares, np.float64)
    present = (shares > 1.0 / shares.shape[1]).sum(axis=1)
    present = present[present > 0]
    if present.size == 0:
        return {b: float("nan") for b in CARDINALITY_BINS}
    return {"1": float((present == 1).mean()), "2": float((present == 2).mean()), "3+": float((present >= 3).mean())}


def prevalence(shares: np.ndarray, emotions: Sequence[str]) -> dict[str, float]:
    """Share of clips in which each emotion's vote share exceeds 1/C (the binary target of RAVER)."""
    shares = np.asarray(shares, np.float64)
    binary = shares > 1.0 / shares.shape[1]
    return {e: float(binary[:, i].mean()) for i, e in enumerate(emotions)}


def raters_histogram(votes: np.ndarray) -> dict[int, float]:
    """Share of clips per number of raters (clips without votes are left out)."""
    raters = np.asarray(votes).sum(axis=1).astype(int)
    raters = raters[raters > 0]
    values, counts = np.unique(raters, return_counts=True)
    return {int(v): float(c / raters.size) for v, c in zip(values, counts)}
