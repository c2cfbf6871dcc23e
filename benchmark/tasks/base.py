"""The task interface: what a task fixes about a model's outputs, its training loss, its scores and its tables."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

    from avbench.data.batching import Collator
    from avbench.data.store import FeatureStore

Triple = tuple[float, float, float]  # (value, ci_low, ci_high)


class Task(ABC):
    """The task interface (abstract: a task that misses a method cannot be built); the subclasses below fill it in. Instances are stateless and registered by name."""

    name: str = ""
    primary: str = ""  # metric that ranks models and selects the checkpoint (a name in avbench.scoring.metrics)
    head: str = ""  # the model output a task needs: a task name models list in their ``tasks``
    baseline: str = ""  # registered model that effective robustness is measured against
    default_outputs: int = 0  # outputs of a model built without a dataset (the embedded dataset's count)
    scalar_outputs: bool = False  # True: each output is its own value (one head each); False: one distribution
    description: str = ""
    # what tables show beside the ranking score: the calibration metric of the "Brier" column (None: the task has
    # none, so no such column), and the family of the per-class table (per-emotion F1, per-attribute CCC)
    calibration: str | None = None
    per_class: str = ""
    per_class_title: str = ""

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
        """The training loss for a recipe's ``loss`` setting; maps (outputs, targets) to a scalar."""

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


def _triples(flat: dict[str, Any]) -> dict[str, Triple]:
    return {key: (float(v), float(lo), float(hi)) for key, (v, lo, hi) in flat.items()}
