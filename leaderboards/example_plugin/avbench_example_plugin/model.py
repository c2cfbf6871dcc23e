"""A deliberately small audio-visual model showing everything avbench asks of a plugin.

It uses only avbench's public model contract (``EmotionModel``, ``Recipe``, ``FeatureDims``, ``Batch``):

* ``frontend`` is given one frame at a time (avbench maps it over every frame: no batch or time axis) and ignores
  masks (mean over the SSL layers, then a linear projection), so avbench computes it once per clip and reuses it at
  every corruption level;
* ``fuse`` gets the frames (lost ones already the frontend of a zero frame), keep-masks, lengths and timing —
  never the inputs, labels or clip ids;
* it declares ``sees_masks = True``, so ``fuse`` is given the keep-masks: it averages only the received frames of
  each modality and tells the head what share of each modality arrived, so the head can learn to trust the
  modality that is still there (a model that leaves ``sees_masks`` False is shown only zero-filled frames);
* it stays finite when a modality is 100 % missing (the mean's denominator is clamped, coverage is then 0).
"""
from __future__ import annotations

import torch
from torch import nn

from avbench.models.base import Batch, EmotionModel, FeatureDims, Frames, Recipe


class GatedMeanFusion(EmotionModel):
    """Masked mean pooling per modality + received-share features → MLP."""

    name = "example-gated-mean"
    sees_masks = True
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = "avbench example plugin (not from a paper)"
    configs = {"tiny": {"d": 16}, "paper": {"d": 128}}
    recipes = {
        "tiny": Recipe(optimizer="adamw", lr=3e-3, batch_size=32, epochs=3, loss="ce",
                       modality_dropout=(0.2, 0.2), source="example: a few epochs so it trains in seconds"),
        "paper": Recipe(optimizer="adamw", lr=1e-4, batch_size=32, epochs=20, loss="ce",
                        modality_dropout=(0.2, 0.2), source="example"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, d: int = 16) -> None:
        super().__init__(dims, n_outputs, task)
        self.project = nn.ModuleDict({m: nn.Linear(dims.dim(m), d) for m in self.modalities})
        self.head = nn.Sequential(nn.Linear(len(self.modalities) * (d + 1), d), nn.ReLU(), nn.Linear(d, n_outputs))

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        # one frame of one modality: audio (layers, dim), video (dim,)
        return {m: self.project[m](x.mean(dim=-2) if x.dim() == 2 else x) for m, x in inputs.items()}

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        features = []
        for m in self.modalities:
            keep = batch.masks[m].unsqueeze(-1).to(frames[m].dtype)
            received = keep.sum(dim=1)
            features.append((frames[m] * keep).sum(dim=1) / received.clamp(min=1.0))
            features.append(received / batch.lengths[m].clamp(min=1).unsqueeze(-1).to(received.dtype))
        return self.head(torch.cat(features, dim=-1))
