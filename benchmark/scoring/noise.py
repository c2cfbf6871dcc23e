"""How a board's scores split into retraining noise and test-set noise, measured from seeds and clip resamples.

The seed-aware test (:func:`avbench.scoring.stats.seed_paired_test`) is checked by simulation
(:mod:`avbench.scoring.null_size`) in regimes of three noise sources; the regimes that matter most are the default
run's own, and this is where they are measured, from the same arrays a board ranks with: every model's per-seed
test-set scores and their resamples on clip resamples every model shares. The parts, each as the standard deviation
it gives one model's test-set score (the simulation's units):

* **between seeds** — the SD of a model's per-seed scores on the one test set: retraining, all of it;
* **seed × clip** (``interaction``) — retraining that shows as other errors on the same clips: two seeds of one
  model scored on the same resamples differ by it (the shared test set cancels); estimated as the seed-aware test
  does (:func:`avbench.scoring.stats.interaction_sd`);
* **seed** — the rest of the between-seed variance, the part that moves the whole score: √(between² − interaction²);
* **clip** — the test set's part one model carries into a paired comparison: the test-set variance of the
  difference of two models' seed means that the seed-aware test uses
  (:func:`avbench.scoring.stats.test_set_variance`), over two models, square-rooted.

Each is the median over the models (pairs of models for ``clip``), as one regime stands for a board.
"""
from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

import numpy as np

from avbench.scoring.stats import interaction_sd, test_set_variance


@dataclass(frozen=True)
class NoiseParts:
    """Median SDs, in score units, of a board's noise sources (see the module docstring)."""

    between_seeds: float
    interaction: float
    seed: float
    clip: float
    models: int
    seeds: int

    @property
    def paired_clip(self) -> float:
        """The test-set SD of the difference of two models, shared by their seeds (√2 × ``clip``)."""
        return float(np.sqrt(2.0) * self.clip)


def noise_parts(points: np.ndarray, resamples: np.ndarray) -> NoiseParts:
    """``points``: (M, S) per-seed test-set scores of M models; ``resamples``: (M, S, B) the same scores on B clip
    resamples that every model and seed shares. At least two models and two seeds."""
    points = np.asarray(points, dtype=np.float64)
    resamples = np.asarray(resamples, dtype=np.float64)
    n_models, n_seeds = points.shape
    if n_models < 2 or n_seeds < 2 or resamples.shape[:2] != points.shape:
        raise ValueError(f"need (M >= 2, S >= 2) scores and (M, S, B) resamples, got {points.shape} and "
                         f"{resamples.shape}")
    between = points.std(axis=1, ddof=1)
    interaction = interaction_sd(resamples)  # (M,)
    clip = [np.sqrt(test_set_variance(resamples[a], resamples[b]) / 2.0)
            for a, b in itertools.combinations(range(n_models), 2)]
    total, part = statistics.median(between.tolist()), statistics.median(interaction.tolist())
    return NoiseParts(between_seeds=float(total), interaction=float(part),
                      seed=float(np.sqrt(max(total ** 2 - part ** 2, 0.0))), clip=float(statistics.median(clip)),
                      models=n_models, seeds=n_seeds)
