"""Regression of arousal, valence and dominance, scored by Lin's concordance correlation (the audio-text paper)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from avbench.data.vocabulary import ATTRIBUTES
from avbench.scoring.metrics import CCC, CCC_MEAN, attribute_scores
from avbench.scoring.stats import ccc_distribution, intervals
from avbench.tasks.base import Task, Triple, _triples

if TYPE_CHECKING:
    from torch import nn

    from avbench.data.batching import Collator
    from avbench.data.store import FeatureStore


class AttributeTask(Task):
    """Regression of emotional attributes, scored by Lin's concordance correlation (the audio-text paper)."""

    name = "attributes"
    primary = CCC_MEAN
    head = "attributes"
    baseline = "mdre-gru"
    default_outputs = 3
    scalar_outputs = True
    description = "arousal, valence, dominance; de-normalised outputs; 1 − CCC loss; mean CCC"
    per_class = CCC
    per_class_title = "per-attribute CCC"

    def names(self, store: FeatureStore) -> list[str]:
        return list(store.meta.get("attributes", ATTRIBUTES))

    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        return np.asarray(store.attributes[indices], np.float32)

    def to_label_scale(self, predictions: np.ndarray, collator: Collator) -> np.ndarray:
        return collator.denormalise_attributes(predictions)

    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        from avbench.tasks.losses import CCCLoss  # deferred: torch

        return CCCLoss()

    def point_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
        return attribute_scores(targets, predictions, tuple(names))

    def condition_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str], n_resamples: int,
                         seed: int) -> tuple[dict[str, Triple], np.ndarray]:
        point = attribute_scores(targets, predictions, tuple(names))
        distribution = ccc_distribution(targets, predictions, n_resamples=n_resamples, seed=seed, names=tuple(names))
        return _triples(intervals(point, distribution)), distribution[self.primary]
