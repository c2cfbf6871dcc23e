"""The declared baseline for effective robustness: mean pooling per modality and an MLP, and its mask-aware twin."""
from __future__ import annotations

import torch

from avbench.data.batching import Batch
from avbench.models.base import FeatureDims, Frames, Recipe
from avbench.models.layers import FrameFrontend, FrameModel, masked_mean, mlp


class LateFusion(FrameModel):
    """EMO-SUPERB-style probe on both modalities: (audio: learnable layer sum) → Linear to ``d`` per frame → mean
    over each modality's frames → concatenation → Linear-ReLU-Dropout-Linear.

    Mask-blind (``sees_masks = False``): a lost frame enters the mean as the zero-filled frame the probe's source
    would be fed, and the model is not told which frames were lost. Not told is not unable to know: a lost frame
    arrives as the projection of a zero frame, which a model could learn to recognise (MulT does on purpose), but
    this one averages it in like any other. Nothing in it is designed for missing data, which is what makes it the
    reference against which the other models' effective robustness is measured: a model's gain over it is then
    architecture, not use of the masks. ``late-fusion-masked`` is the same network averaging only the received
    frames, so the two effects can be told apart."""

    name = "late-fusion"
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = "EMO-SUPERB probe (Wu et al., arXiv:2402.13018) on both modalities; avbench baseline"
    configs = {"tiny": dict(d=32, hidden=32), "paper": dict(d=256, hidden=256)}
    recipes = {
        "paper": Recipe(optimizer="adamw", lr=1e-4, batch_size=32, epochs=95, loss="ce", grad_clip=1.0,
                        source="EMO-SUPERB CREMA-D: AdamW 1e-4, clip 1, 15,510 steps at batch 32 "
                               "(≈95 epochs of ~5.2k clips)"),
        "tiny": Recipe(optimizer="adamw", lr=1e-3, batch_size=32, epochs=10, loss="ce", grad_clip=1.0,
                       source="EMO-SUPERB recipe with lr 1e-3 and 10 epochs so it trains in seconds"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, d: int = 256, hidden: int = 256,
                 dropout: float = 0.1) -> None:
        super().__init__(dims, n_outputs, task)
        self.front = FrameFrontend(dims, {m: d for m in self.modalities}, bias=True)
        self.head = mlp((2 * d, hidden, n_outputs), dropout)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        pooled = [masked_mean(frames[m], self.keep(batch, m)) for m in self.modalities]
        return self.head(torch.cat(pooled, dim=-1))


class LateFusionMasked(LateFusion):
    """Late fusion that sees the keep-masks: the mean runs over the *received* frames of each modality only (zeros
    when none). Not a declared baseline; it measures what mask access alone buys the probe."""

    name = "late-fusion-masked"
    sees_masks = True
    paper = "avbench variant of late-fusion (EMO-SUPERB probe) with mask access"
