"""RAVER: contextual-attention summarizers for robust audio-visual emotion recognition (Goncalves et al., OJSP 2025)."""
from __future__ import annotations

import torch
from torch import nn

from avbench.data.batching import Batch
from avbench.models.base import FeatureDims, Frames, Recipe
from avbench.models.layers import (AttentiveStatsPool, CrossmodalTransformer, FrameFrontend, FrameModel,
                                   TransformerLayer, key_mask, mlp, sinusoid)


class ContextSummarizer(nn.Module):
    """Fig. 1(b): ``n_ctx`` learnable queries self-attend, then cross-attend to the received frames only, through a
    stack of Transformer decoder layers. With no received frame the cross-attention gives a zero update, so the
    summary becomes a learned "nothing here" context instead of a softmax over an empty set."""

    def __init__(self, dim: int, n_ctx: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_ctx, dim) * 0.02)
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, dropout, cross=True) for _ in range(layers))

    def forward(self, frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(1, frames.shape[1] + 1, device=frames.device)
        memory = frames + sinusoid(steps, frames.shape[-1])
        x = self.queries.unsqueeze(0).expand(frames.shape[0], -1, -1)
        everything = torch.ones(x.shape[0], 1, x.shape[1], dtype=torch.bool, device=x.device)
        for layer in self.layers:
            x = layer(x, everything, memory, key_mask(keep))
        return x


class RAVER(FrameModel):
    """RAVER (paper §III, Fig. 1): LW-Sum over audio layers; Conv1d(k=1) video projection to ``d`` (audio projected
    too when its width differs); one context summarizer per modality; MulT-style cross-modal layers (audio←video,
    video←audio) then self-attention layers over the contexts; attentive statistics pooling; FC head.

    No public code exists (authors-code-facts §2.7); choices the paper leaves open, marked as ours:

    * the summarizer memory gets sinusoidal frame positions (else frame order would be invisible to it); its
      decoder layers are post-LN with a 4·d ReLU FFN (the "Transformers [52]" layout);
    * the cross-modal and self-attention layers are MulT's (pre-LN, √d scaling, positions on the context slots)
      without MulT's causal mask, since context tokens have no temporal order;
    * AS-Pool returns 2·d per modality (mean and std), so the head is 4·d → 2048 → 1024 → 256 → outputs; its
      dropout is not stated and equals the attention dropout;
    * a modality with no received frame still yields its learned empty context (zero cross-attention update).

    The tiny config (d 32, 8 context tokens, one layer everywhere) uses a single 64-unit hidden layer in the head:
    with the paper's three-layer shape the tiny model learned markedly slower on the synthetic data.
    """

    name = "raver"
    sees_masks = True  # the summarizers cross-attend to received frames only (paper §III-B)
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = "Goncalves et al., Contextual Attention for Robust Audio-Visual Emotion Recognition, IEEE OJSP 2025"
    configs = {
        "tiny": dict(d=32, n_ctx=8, summarizer_layers=1, summarizer_heads=2, fusion_layers=1, fusion_heads=2,
                     head=(64,)),
        "paper": dict(d=1024, n_ctx=128, summarizer_layers=6, summarizer_heads=8, fusion_layers=3, fusion_heads=8,
                      head=(2048, 1024, 256)),
    }
    recipes = {
        "paper": Recipe(optimizer="adamw", lr=1e-5, weight_decay=5e-7, betas=(0.95, 0.999), batch_size=32, epochs=60,
                        loss="cbce", modality_dropout=(0.2, 0.2), source="RAVER paper §IV-D2"),
        "tiny": Recipe(optimizer="adamw", lr=2e-3, weight_decay=5e-7, betas=(0.95, 0.999), batch_size=32, epochs=10,
                       loss="cbce", modality_dropout=(0.2, 0.2),
                       source="RAVER paper §IV-D2 with lr 2e-3 and 10 epochs so the tiny model trains in seconds"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, d: int = 1024,
                 n_ctx: int = 128, summarizer_layers: int = 6, summarizer_heads: int = 8,
                 summarizer_dropout: float = 0.1, fusion_layers: int = 3, fusion_heads: int = 8,
                 embed_dropout: float = 0.25, attn_dropout: float = 0.1, relu_dropout: float = 0.1,
                 res_dropout: float = 0.1, head: tuple[int, ...] = (2048, 1024, 256),
                 frame_pool: tuple[int, int] | None = None) -> None:
        super().__init__(dims, n_outputs, task, frame_pool)
        self.front = FrameFrontend(dims, {"audio": None if dims.dim("audio") == d else d, "video": d}, bias=True)
        self.summarizers = nn.ModuleDict({m: ContextSummarizer(d, n_ctx, summarizer_layers, summarizer_heads,
                                                               summarizer_dropout) for m in self.modalities})
        enc = dict(dim=d, heads=fusion_heads, layers=fusion_layers, attn_dropout=attn_dropout,
                   relu_dropout=relu_dropout, res_dropout=res_dropout, embed_dropout=embed_dropout)
        self.cross = nn.ModuleDict({m: CrossmodalTransformer(**enc) for m in self.modalities})
        self.self_attn = nn.ModuleDict({m: CrossmodalTransformer(**enc) for m in self.modalities})
        self.pool = nn.ModuleDict({m: AttentiveStatsPool(d) for m in self.modalities})
        self.head = mlp((4 * d, *head, n_outputs), attn_dropout)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        frames, keep, _ = self.sequences(frames, batch)
        ctx = {m: self.summarizers[m](frames[m], keep[m]) for m in self.modalities}
        every = torch.ones(ctx["audio"].shape[:2], dtype=torch.bool, device=ctx["audio"].device)
        pooled = []
        for m, other in (("audio", "video"), ("video", "audio")):
            h = self.cross[m](ctx[m], key_mask(every), source=ctx[other])
            h = self.self_attn[m](h, key_mask(every))
            pooled.append(self.pool[m](h, every))
        return self.head(torch.cat(pooled, dim=-1))
