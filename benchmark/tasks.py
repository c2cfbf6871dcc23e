"""What a model is asked to predict: the Task objects, the one place that knows how tasks differ.

A task fixes the model's outputs (how many, and their names from the feature store), the targets it is scored
against, how raw outputs become predictions (softmax over emotions; attribute values de-normalised back to the
corpus scale), the training loss, every metric of a condition with its bootstrap, the primary metric that ranks
models and selects checkpoints on the development split, the declared baseline model that effective robustness is
measured against, and what valid predictions look like. Nothing else in avbench branches on the task's name.

* ``emotion`` — multi-label, distributional: vote shares over C emotions, soft-label cross-entropy, softmax
  outputs, scored by macro-F1 (RAVER).
* ``attributes`` — regression of arousal, valence and dominance, trained with 1 − CCC, scored by mean CCC
  (the audio-text paper).
* ``category`` — single-label: the plurality emotion of the votes, cross-entropy on it, the most probable emotion
  as the decision, macro-F1. It runs on every model with an emotion head and was one subclass and one registry
  line: that is what adding a task takes (or an ``avbench.tasks`` entry point).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from avbench.metric_specs import CCC_MEAN, MACRO_F1
from avbench.metrics import TOP1
from avbench.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from avbench.batching import Collator
    from avbench.store import FeatureStore

Triple = tuple[float, float, float]  # (value, ci_low, ci_high)


class Task(ABC):
    """The task interface (abstract: a task that misses a method cannot be built); the subclasses below fill it in. Instances are stateless and registered by name."""

    name: str = ""
    primary: str = ""  # metric that ranks models and selects the checkpoint (a name in avbench.metric_specs)
    head: str = ""  # the model output a task needs: a task name models list in their ``tasks``
    baseline: str = ""  # registered model that effective robustness is measured against
    default_outputs: int = 0  # outputs of a model built without a dataset (the embedded dataset's count)
    scalar_outputs: bool = False  # True: each output is its own value (one head each); False: one distribution
    description: str = ""

    @abstractmethod
    def names(self, store: FeatureStore) -> list[str]:
        """One name per output (emotions or attributes), from the store."""

    def n_outputs(self, store: FeatureStore) -> int:
        return len(self.names(store))

    @abstractmethod
    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        """(N, outputs) float32 targets of clips ``indices``, on the scale predictions are scored on."""

    def activate(self, outputs: torch.Tensor) -> torch.Tensor:
        """A model's raw outputs → predictions on the model's own scale (e.g. logits → probabilities)."""
        return outputs

    def to_label_scale(self, predictions: np.ndarray, collator: Collator) -> np.ndarray:
        """Predictions → the targets' scale (identity unless the model learns on normalised targets)."""
        return predictions

    @abstractmethod
    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        """The training loss for a recipe's ``loss`` setting; maps (outputs, batch) to a scalar."""

    @abstractmethod
    def point_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
        """Every scalar metric of one condition, by its flat results-file name."""

    @abstractmethod
    def condition_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str], n_resamples: int,
                         seed: int) -> tuple[dict[str, Triple], np.ndarray]:
        """Every metric of one condition with its percentile interval, and the primary metric on each of the
        ``n_resamples`` clip resamples (paired across models through the shared ``seed``): one bootstrap for both."""

    def dev_score(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> float:
        """The checkpoint-selection score on the development split: the primary metric."""
        return float(self.point_scores(targets, predictions, names)[self.primary])

    def output_problem(self, predictions: np.ndarray) -> str:
        """Why saved predictions cannot be this task's ('' when they can); shapes are checked elsewhere."""
        return ""


class EmotionTask(Task):
    """Multi-label emotion recognition on vote-share labels (RAVER)."""

    name = "emotion"
    primary = MACRO_F1
    head = "emotion"
    baseline = "late-fusion"
    default_outputs = 6
    description = "multi-label emotions from vote shares; softmax outputs; soft-label CE; macro-F1"
    decision: float | str | None = None  # classification threshold: None = 1/C (multi-label)

    def names(self, store: FeatureStore) -> list[str]:
        return list(store.emotions)

    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        return np.asarray(store.labels[indices], np.float32)

    def activate(self, outputs: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.softmax(outputs, dim=-1)

    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        from avbench.training import SoftCrossEntropy, class_balanced_weights

        if recipe_loss == "cbce":
            train = store.split_indices("train")
            return SoftCrossEntropy(class_balanced_weights(np.asarray(store.labels[train]), beta))
        return SoftCrossEntropy()

    def point_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
        from avbench.metrics import classification_scores, flatten_scores

        return flatten_scores(classification_scores(targets, predictions, self.decision), names)

    def condition_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str], n_resamples: int,
                         seed: int) -> tuple[dict[str, Triple], np.ndarray]:
        from avbench.metrics import classification_scores, flatten_scores
        from avbench.stats import bootstrap_distribution, intervals

        point = classification_scores(targets, predictions, self.decision)
        distribution = bootstrap_distribution(targets, predictions, n_resamples=n_resamples, seed=seed,
                                              threshold=self.decision)
        return _triples(flatten_scores(intervals(point, distribution), names)), distribution[self.primary]

    def output_problem(self, predictions: np.ndarray) -> str:
        if predictions.size and (predictions.min() < 0.0 or predictions.max() > 1.0):
            return (f"probabilities out of range [0, 1] (min {predictions.min():.4g}, "
                    f"max {predictions.max():.4g})")
        return ""


class AttributeTask(Task):
    """Regression of emotional attributes, scored by Lin's concordance correlation (the audio-text paper)."""

    name = "attributes"
    primary = CCC_MEAN
    head = "attributes"
    baseline = "mdre-gru"
    default_outputs = 3
    scalar_outputs = True
    description = "arousal, valence, dominance; de-normalised outputs; 1 − CCC loss; mean CCC"

    def names(self, store: FeatureStore) -> list[str]:
        from avbench.store import ATTRIBUTES

        return list(store.meta.get("attributes", ATTRIBUTES))

    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        return np.asarray(store.attributes[indices], np.float32)

    def to_label_scale(self, predictions: np.ndarray, collator: Collator) -> np.ndarray:
        return collator.denormalise_attributes(predictions)

    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        from avbench.training import CCCLoss

        return CCCLoss()

    def point_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
        from avbench.metrics import attribute_scores

        return attribute_scores(targets, predictions, tuple(names))

    def condition_scores(self, targets: np.ndarray, predictions: np.ndarray, names: Sequence[str], n_resamples: int,
                         seed: int) -> tuple[dict[str, Triple], np.ndarray]:
        from avbench.metrics import attribute_scores
        from avbench.stats import ccc_distribution, intervals

        point = attribute_scores(targets, predictions, tuple(names))
        distribution = ccc_distribution(targets, predictions, n_resamples=n_resamples, seed=seed, names=tuple(names))
        return _triples(intervals(point, distribution)), distribution[self.primary]


class CategoryTask(EmotionTask):
    """Single-label emotion recognition: the plurality emotion, decided by the most probable class."""

    name = "category"
    description = "single-label: the plurality emotion; softmax outputs; cross-entropy; argmax decision; macro-F1"
    decision = TOP1

    def targets(self, store: FeatureStore, indices: np.ndarray) -> np.ndarray:
        shares = np.asarray(store.labels[indices], np.float32)
        return np.eye(shares.shape[1], dtype=np.float32)[shares.argmax(axis=1)]

    def criterion(self, recipe_loss: str, store: FeatureStore, beta: float) -> nn.Module:
        from avbench.training import PluralityCrossEntropy

        return PluralityCrossEntropy()


def _triples(flat: dict[str, Any]) -> dict[str, Triple]:
    return {key: (float(v), float(lo), float(hi)) for key, (v, lo, hi) in flat.items()}


REGISTRY: Registry[Task] = Registry("task", entry_point_group="avbench.tasks", base=Task, entries={
    "emotion": EmotionTask(), "attributes": AttributeTask(), "category": CategoryTask()})
get = REGISTRY.get
names = REGISTRY.names
