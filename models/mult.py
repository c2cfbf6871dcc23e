"""MulT (Tsai et al., ACL 2019) reduced to audio and video, as the RAVER paper runs it."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avbench.data.batching import Batch
from avbench.models.base import FeatureDims, Frames, Recipe
from avbench.models.layers import CrossmodalTransformer, FrameFrontend, FrameModel, causal_allowed, key_mask, last_valid

PAIRS = (("audio", "video"), ("video", "audio"))  # (target, source) of each crossmodal transformer


def attention_mask(keep: torch.Tensor, q_lengths: torch.Tensor, k_lengths: torch.Tensor, q_steps: int,
                   causal: bool) -> torch.Tensor:
    """Allowed keys for one transformer: the kept keys, restricted by MulT's future mask when ``causal``."""
    return causal_allowed(keep, q_lengths, k_lengths, q_steps) if causal else key_mask(keep)


class CrossmodalPair(nn.Module):
    """The MulT/AuxFormer core: audio←video and video←audio crossmodal transformers, each followed by a
    self-attention ("memory") transformer, read out at each clip's last unpadded step and concatenated (2·d)."""

    def __init__(self, d: int, heads: int, layers: int, mem_layers: int, cross_attn_dropout: float,
                 mem_attn_dropout: float, relu_dropout: float, res_dropout: float, embed_dropout: float,
                 mem_positions: bool, gated_mem: bool, causal: bool) -> None:
        super().__init__()
        common = dict(dim=d, heads=heads, relu_dropout=relu_dropout, res_dropout=res_dropout,
                      embed_dropout=embed_dropout)
        self.cross = nn.ModuleDict({t: CrossmodalTransformer(layers=layers, attn_dropout=cross_attn_dropout,
                                                             **common) for t, _ in PAIRS})
        self.mem = nn.ModuleDict({t: CrossmodalTransformer(layers=mem_layers, attn_dropout=mem_attn_dropout,
                                                           positions=mem_positions, gated=gated_mem, **common)
                                  for t, _ in PAIRS})
        self.causal = causal

    def forward(self, frames: Frames, keep: dict[str, torch.Tensor], lengths: dict[str, torch.Tensor]) -> torch.Tensor:
        reps = []
        for t, s in PAIRS:
            steps = frames[t].shape[1]
            h = self.cross[t](frames[t], attention_mask(keep[s], lengths[t], lengths[s], steps, self.causal),
                              source=frames[s])
            h = self.mem[t](h, attention_mask(keep[t], lengths[t], lengths[t], steps, self.causal))
            reps.append(last_valid(h, lengths[t]))
        return torch.cat(reps, dim=-1)


class ResidualHead(nn.Module):
    """MulT's output block: proj2(dropout(relu(proj1(h)))) + h, then a linear layer."""

    def __init__(self, dim: int, n_outputs: int, dropout: float) -> None:
        super().__init__()
        self.proj1, self.proj2, self.out = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, n_outputs)
        self.dropout = dropout

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.proj2(F.dropout(F.relu(self.proj1(h)), self.dropout, self.training)) + h)


class MulT(FrameModel):
    """MulT with the text branch removed (RAVER §IV-E): bias-free Conv1d(k=1) projections to ``d``, crossmodal
    transformers audio←video and video←audio whose keys/values are the source embedded once (√d scaling +
    sinusoidal positions + embedding dropout) and reused by every layer, one memory transformer per modality
    (depth max(layers, 3)), last time step of each, residual MLP head. ``cross_attn_dropout`` is the source's
    ``attn_dropout_a``/``attn_dropout_v`` (both 0.0), ``attn_dropout`` the memory transformers' (0.1).

    Kept from the source: the causal future mask (on by default, ``causal=False`` removes it) and the position
    quirk (a zero-filled frame has first channel 0 after the bias-free projection, so it gets no position
    embedding). Deviations: audio is the learnable layer sum of the SSL layers instead of one fixed feature
    layer; batch padding is excluded from attention (the source pads MOSI/MOSEI to a fixed length) and the future
    mask and "last time step" use each clip's own lengths, so outputs do not depend on batch composition; a
    query with no allowed key gets a zero update (never NaN); lost frames are attended as zero frames, as in the
    source (mask-blind: ``sees_masks = False``).
    """

    name = "mult"
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = "Tsai et al., Multimodal Transformer for Unaligned Multimodal Language Sequences, ACL 2019"
    configs = {
        "tiny": dict(d=16, heads=2, layers=1, frame_pool=(5, 3)),
        "paper": dict(d=30, heads=5, layers=5),
    }
    recipes = {
        "paper": Recipe(optimizer="adam", lr=1e-3, batch_size=24, epochs=40, loss="ce", grad_clip=0.8,
                        source="MulT main.py defaults (ReduceLROnPlateau, patience 20, not reproduced)"),
        "tiny": Recipe(optimizer="adam", lr=3e-3, batch_size=32, epochs=6, loss="ce", grad_clip=0.8,
                       source="MulT defaults with lr 3e-3, batch 32 and 6 epochs so the tiny model trains in seconds"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, d: int = 30, heads: int = 5,
                 layers: int = 5, attn_dropout: float = 0.1, cross_attn_dropout: float = 0.0,
                 relu_dropout: float = 0.1, res_dropout: float = 0.1,
                 embed_dropout: float = 0.25, out_dropout: float = 0.0, causal: bool = True,
                 frame_pool: tuple[int, int] | None = None) -> None:
        super().__init__(dims, n_outputs, task, frame_pool)
        self.front = FrameFrontend(dims, {"audio": d, "video": d}, bias=False)
        self.pair = CrossmodalPair(d, heads, layers, max(layers, 3), cross_attn_dropout, attn_dropout, relu_dropout,
                                   res_dropout, embed_dropout, mem_positions=True, gated_mem=False, causal=causal)
        self.head = ResidualHead(2 * d, n_outputs, out_dropout)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        frames, keep, lengths = self.sequences(frames, batch)
        return self.head(self.pair(frames, keep, lengths))
