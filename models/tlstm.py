"""TLSTM: transformer + LSTM audio-visual fusion (Huang et al., ICASSP 2020), rebuilt from the abstract."""
from __future__ import annotations

import torch
from torch import nn

from avbench.data.batching import Batch
from avbench.models.base import FeatureDims, Frames, Recipe
from avbench.models.layers import Attention, FrameFrontend, FrameModel, TransformerLayer, key_mask, sinusoid


class TLSTM(FrameModel):
    """No public code exists (authors-code-facts §2.8): this follows the abstract and the RAVER paper's summary,
    and every layout choice and hyperparameter here is ours.

    Per modality a linear frame projection to ``d`` plus sinusoidal positions and a Transformer encoder
    (post-LN, ``layers`` × ``heads``); model-level fusion by one multi-head attention shared by both directions
    that maps each modality into a common space (audio steps attend to video and video steps to audio, with a
    residual and LayerNorm); an LSTM shared by both fused sequences runs over each clip's unpadded steps; its
    final hidden states are concatenated and a linear layer gives the outputs. The source predicts continuous
    per-frame values; here one utterance-level output is read from the LSTM's last state. Lost frames stay in as
    zero frames (mask-blind: ``sees_masks = False``).
    """

    name = "tlstm"
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = "Huang et al., Multimodal Transformer Fusion for Continuous Emotion Recognition, ICASSP 2020"
    configs = {
        "tiny": dict(d=32, heads=2, layers=1, lstm_hidden=32, frame_pool=(5, 3)),
        "paper": dict(d=256, heads=4, layers=2, lstm_hidden=256),
    }
    recipes = {
        "paper": Recipe(optimizer="adam", lr=1e-4, batch_size=32, epochs=30, loss="ce",
                        source="no public recipe: our choice (Adam 1e-4, 30 epochs)"),
        "tiny": Recipe(optimizer="adam", lr=1e-3, batch_size=32, epochs=6, loss="ce",
                       source="no public recipe: lr 1e-3 and 6 epochs so the tiny model trains in seconds"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, d: int = 256, heads: int = 4,
                 layers: int = 2, lstm_hidden: int = 256, dropout: float = 0.1,
                 frame_pool: tuple[int, int] | None = None) -> None:
        super().__init__(dims, n_outputs, task, frame_pool)
        self.front = FrameFrontend(dims, {"audio": d, "video": d}, bias=True)
        self.encoders = nn.ModuleDict({m: nn.ModuleList(TransformerLayer(d, heads, dropout) for _ in range(layers))
                                       for m in self.modalities})
        self.common = Attention(d, heads, dropout)
        self.common_norm = nn.LayerNorm(d)
        self.lstm = nn.LSTM(d, lstm_hidden, batch_first=True)
        self.out = nn.Linear(2 * lstm_hidden, n_outputs)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        frames, keep, lengths = self.sequences(frames, batch)
        enc = {}
        for m in self.modalities:
            x = frames[m]
            h = x + sinusoid(torch.arange(1, x.shape[1] + 1, device=x.device), x.shape[-1])
            for layer in self.encoders[m]:
                h = layer(h, key_mask(keep[m]))
            enc[m] = h
        states = []
        for m, other in (("audio", "video"), ("video", "audio")):
            z = self.common_norm(enc[m] + self.common(enc[m], enc[other], enc[other], key_mask(keep[other])))
            steps = lengths[m].clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(z, steps, batch_first=True, enforce_sorted=False)
            _, (hidden, _) = self.lstm(packed)
            states.append(hidden[-1])
        return self.out(torch.cat(states, dim=-1))
