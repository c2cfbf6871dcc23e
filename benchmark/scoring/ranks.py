"""How sure is a ranking? Each model's rank in every bootstrap resample of the test set.

The runner scores every model of a run on the same clip resamples (and, with several seeds, the same seed draws),
so resample ``b`` gives one ranking score per model — the area under its curve, or its mean over the shared
conditions — all from one draw of the test set. Ranking the models within each resample gives a distribution of
ranks per model; its 2.5–97.5 % range is the model's rank interval. A model whose interval is {1} is first on
every plausible test set; two models whose intervals overlap cannot be told apart by this test set. This covers the
clip (and seed) variance the bootstrap covers, and nothing else (not training on other data, not other masks).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.scoring.metrics import higher_is_better
from avbench.scoring.summary import Summary, categorical, run_curves, score_run, summarise
from avbench.tasks import get as get_task

RANK_COLUMNS = ["task", "corruption", "metric", "model", "resample", "rank"]


def resample_ranks(summaries: Sequence[Summary], metric: str) -> pd.DataFrame:
    """One row per model × resample with the model's rank in that resample (1 = best; ties share the better
    rank). Models without a resample distribution (a categorical board missing a condition) are left out."""
    ranked = [s for s in summaries if s.distribution is not None and np.asarray(s.distribution).size]
    if not ranked:
        return pd.DataFrame(columns=["model", "resample", "rank"])
    scores = np.stack([np.asarray(s.distribution, np.float64) for s in ranked])  # (models, B)
    if higher_is_better(metric):
        scores = -scores
    # rank = 1 + the number of models strictly better in the same resample
    ranks = 1 + (scores[None, :, :] < scores[:, None, :]).sum(axis=1)
    return pd.DataFrame({"model": np.repeat([s.model for s in ranked], scores.shape[1]),
                         "resample": np.tile(np.arange(scores.shape[1]), len(ranked)),
                         "rank": ranks.reshape(-1)})


def run_ranks(directory: Path, dataset: str, labels: Sequence[str], seeds: Sequence[int],
              corruptions: Sequence[Any], n_resamples: int, boot_seed: int) -> pd.DataFrame:
    """Every task × corruption of a run (:data:`RANK_COLUMNS`), scored from its predictions as the runner scores
    them (same resamples, same summariser)."""
    scores = score_run(directory, dataset, labels, seeds, corruptions, n_resamples, boot_seed)
    means = scores.rows[scores.rows["seed"] == "mean"]
    frames = []
    for (task, corruption), _ in means.groupby(["task", "corruption"], sort=False):
        metric = get_task(task).primary
        summaries = summarise(run_curves(scores, task, corruption), metric, corruption, categorical(corruption),
                              get_task(task).baseline)
        frame = resample_ranks(summaries, metric)
        frame.insert(0, "metric", metric)
        frame.insert(0, "corruption", corruption)
        frame.insert(0, "task", task)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RANK_COLUMNS)


def rank_intervals(ranks: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per model: its median rank and the central ``confidence`` range of its ranks over the resamples."""
    tail = (1 - confidence) / 2
    grouped = ranks.groupby("model", sort=False)["rank"]
    return pd.DataFrame({"median": grouped.median(), "low": grouped.quantile(tail, interpolation="lower"),
                         "high": grouped.quantile(1 - tail, interpolation="higher")}).reset_index()
