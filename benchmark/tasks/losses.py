"""The training losses the tasks own: soft-label and class-balanced cross-entropy, plurality cross-entropy, 1 − CCC.

Each maps (outputs, targets) to a scalar — the targets travel beside the model's batch, never in it
(:class:`avbench.data.batching.Targets`); a task's :meth:`~avbench.tasks.base.Task.criterion` picks one from the
recipe. Kept apart from the task definitions because they need torch, which scoring and listing never import.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from avbench.data.batching import Targets


class SoftCrossEntropy(nn.Module):
    """Cross-entropy against vote-share labels, optionally with per-class weights (class-balanced CE)."""

    def __init__(self, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("weights", class_weights if class_weights is not None else torch.ones(0))

    def forward(self, logits: torch.Tensor, targets: Targets) -> torch.Tensor:
        log_p = torch.log_softmax(logits, dim=-1)
        target = targets.labels
        if self.weights.numel():
            target = target * self.weights
        return -(target * log_p).sum(-1).mean()


class PluralityCrossEntropy(nn.Module):
    """Cross-entropy against the plurality emotion of the vote shares (single-label training, ``category``)."""

    def forward(self, logits: torch.Tensor, targets: Targets) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, targets.labels.argmax(dim=-1))


class CCCLoss(nn.Module):
    """Mean over the attributes of (1 − CCC), with population statistics (audio-text paper eq. 3)."""

    def forward(self, values: torch.Tensor, targets: Targets) -> torch.Tensor:
        y = targets.attributes
        mp, mt = values.mean(0), y.mean(0)
        vp, vt = values.var(0, unbiased=False), y.var(0, unbiased=False)
        cov = ((values - mp) * (y - mt)).mean(0)
        ccc = 2 * cov / (vp + vt + (mp - mt) ** 2 + 1e-8)
        return (1 - ccc).mean()


def class_balanced_weights(labels: np.ndarray, beta: float | None = None) -> torch.Tensor:
    """Cui et al. weights (1−β)/(1−β^{n_i}), n_i = train clips whose share > 1/C, normalised to sum to C;
    ``beta=None`` is (N−1)/N over the N training clips (Chou et al., EMO-SUPERB)."""
    n_classes = labels.shape[1]
    if beta is None:
        beta = (len(labels) - 1) / max(len(labels), 1)
    counts = np.maximum((labels > 1.0 / n_classes).sum(axis=0), 1)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return torch.tensor(weights / weights.sum() * n_classes, dtype=torch.float32)
