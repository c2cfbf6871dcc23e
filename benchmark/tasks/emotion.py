"""Emotion tasks: multi-label vote shares (RAVER's ``emotion``) and its single-label ``category`` variant."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from avbench.scoring.metrics import BRIER, F1, MACRO_F1, TOP1, classification_scores, flatten_scores
from avbench.scoring.stats import bootstrap_distribution, intervals
from avbench.tasks.base import Task, Triple, _triples

if TYPE_CHECKING:
    import torch
    from torch import nn

    from avbench.data.store import FeatureStore


class EmotionTask(Task):
    """Multi-label emotion recognition on vote-share labels (RAVER)."""

    name = "emotion"
    primary = MACRO_F1
    head = "emotion"
    baseline = "late-fusion"
    default_outputs = 6
    description = "multi-label emotions from vote shares; softmax outputs; soft-label CE; macro-F1"
    calibration = BRIER
    per_class = F1
    per_class_title = "per-emotion F1"
    decision: float | str | None = None  # classification threshold: None = 1/C (multi-label)

    def names(self, store: FeatureStore) -> list[str]:
        return list(store.emotions)

    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        return np.asarray(store.labels[indices], np.float32)

    def activate(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.softmax(dim=-1)

    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        from avbench.tasks.losses import SoftCrossEntropy, class_balanced_weights  # deferred: torch

        if recipe_loss == "cbce":
            train = store.split_indices("train")
            return SoftCrossEntropy(class_balanced_weights(np.asarray(store.labels[train]), beta))
        return SoftCrossEntropy()

    def point_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
        return flatten_scores(classification_scores(targets, predictions, self.decision), names)

    def condition_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str], n_resamples: int,
                         seed: int) -> tuple[dict[str, Triple], np.ndarray]:
        point = classification_scores(targets, predictions, self.decision)
        distribution = bootstrap_distribution(targets, predictions, n_resamples=n_resamples, seed=seed,
                                              threshold=self.decision)
        return _triples(flatten_scores(intervals(point, distribution), names)), distribution[self.primary]

    def output_problem(self, predictions: np.ndarray) -> str:
        if predictions.size and (predictions.min() < 0.0 or predictions.max() > 1.0):
            return (f"probabilities out of range [0, 1] (min {predictions.min():.4g}, "
                    f"max {predictions.max():.4g})")
        return ""


class CategoryTask(EmotionTask):
    """Single-label emotion recognition: the plurality emotion, decided by the most probable class."""

    name = "category"
    description = "single-label: the plurality emotion; softmax outputs; cross-entropy; argmax decision; macro-F1"
    decision = TOP1

    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        shares = np.asarray(store.labels[indices], np.float32)
        return np.eye(shares.shape[1], dtype=np.float32)[shares.argmax(axis=1)]

    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        from avbench.tasks.losses import PluralityCrossEntropy  # deferred: torch

        return PluralityCrossEntropy()
