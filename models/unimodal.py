"""Single-modality references of RAVER Table 3: speech (SER) and facial (FER) emotion recognition."""
from __future__ import annotations

import torch
from torch import nn

from avbench.data.batching import Batch
from avbench.models.base import FeatureDims, Frames, Recipe
from avbench.models.layers import AttentiveStatsPool, FrameFrontend, FrameModel

_PAPER = Recipe(optimizer="adamw", lr=1e-5, batch_size=32, epochs=20, loss="cbce",
                source="MSP-Podcast challenge baseline (its inverse-frequency class weights ≈ cbce with β→1)")
_TINY = Recipe(optimizer="adamw", lr=1e-3, batch_size=32, epochs=10, loss="cbce",
               source="MSP-Podcast challenge baseline with lr 1e-3 and 10 epochs so it trains in seconds")


class Unimodal(FrameModel):
    """MSP-Podcast challenge baseline head on one modality: (audio: learnable layer sum) → attentive statistics
    pooling → Linear-LayerNorm-ReLU-Dropout(0.5) → output. The baseline fine-tunes WavLM with 4-step gradient
    accumulation; here the features are frozen and no accumulation is done. Mask-blind: pooling sees lost frames as
    zero frames, as the challenge baseline would be fed; it returns zeros when it sees nothing."""

    tasks = ("emotion", "attributes")
    configs = {"tiny": dict(hidden=32), "paper": dict(hidden=1024)}
    recipes = {"paper": _PAPER, "tiny": _TINY}

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, hidden: int = 1024,
                 dropout: float = 0.5) -> None:
        super().__init__(dims, n_outputs, task)
        (self.modality,) = self.modalities
        dim = dims.dim(self.modality)
        self.front = FrameFrontend(dims, {self.modality: None}, bias=False)
        self.pool = AttentiveStatsPool(dim)
        self.head = nn.Sequential(nn.Linear(2 * dim, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, n_outputs))

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        return self.head(self.pool(frames[self.modality], self.keep(batch, self.modality)))


class SER(Unimodal):
    """Speech-only reference (RAVER Table 3, Chou et al. ICASSP 2025 use WavLM): the :class:`Unimodal` head on audio."""

    name = "ser"
    modalities = ("audio",)
    paper = "Chou et al., Stimulus Modality Matters, ICASSP 2025 (MSP-Podcast challenge baseline head)"


class FER(Unimodal):
    """Face-only reference (RAVER Table 3): the same head on the per-frame face features.

    Its architecture is the MSP-Podcast challenge head of :class:`SER` applied to faces, not the facial model of
    the cited paper (RAVER's reference [65]); the citation names where the unimodal-reference protocol comes from.
    """

    name = "fer"
    modalities = ("video",)
    paper = "Goncalves et al., Jointly Learning from Unimodal and Multimodal-Rated Labels, IEEE OJSP 2025"
