"""SFAV: self-attention fusion for audio-visual emotion recognition with incomplete data (ICPR 2022)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from avbench.data.batching import Batch, Targets
from avbench.models.base import FeatureDims, Frames, Recipe, fuse_view
from avbench.models.layers import FrameFrontend, FrameModel, check_heads, masked_mean, shrink_keep, valid_mask

STAGE_WINDOW = 7  # receptive field of one audio stage: two (conv k=3 'valid' + MaxPool(2, stride 1)) blocks
MIN_AUDIO_STEPS = 2 * (STAGE_WINDOW - 1) + 1  # shortest input both audio stages accept


def audio_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding="valid"), nn.BatchNorm1d(c_out), nn.ReLU(),
                         nn.MaxPool1d(2, 1))


def video_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding="same"), nn.BatchNorm1d(c_out), nn.ReLU())


class AttentionMap(nn.Module):
    """The 'ia' attention: a timm-style attention without LayerNorm whose *map* is all that is used. Averaged over
    heads and summed over the (kept) queries it gives one weight per key step. Only the query and key projections
    exist here, since the source's value and output projections never reach the output."""

    def __init__(self, q_dim: int, k_dim: int, dim: int, heads: int) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q, self.k = nn.Linear(q_dim, dim, bias=False), nn.Linear(k_dim, dim, bias=False)

    def forward(self, query: torch.Tensor, key: torch.Tensor, q_keep: torch.Tensor,
                k_keep: torch.Tensor) -> torch.Tensor:
        """(B, Lq, q_dim), (B, Lk, k_dim) → (B, Lk) key weights; zero on excluded keys."""
        b, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        q = self.q(query).view(b, lq, self.heads, -1).transpose(1, 2)
        k = self.k(key).view(b, lk, self.heads, -1).transpose(1, 2)
        score = (q @ k.transpose(-2, -1)) * self.scale
        score = score.masked_fill(~k_keep[:, None, None, :], torch.finfo(score.dtype).min)
        attn = torch.softmax(score, dim=-1) * k_keep[:, None, None, :].to(score.dtype)
        return (attn.mean(1) * q_keep[:, :, None].to(score.dtype)).sum(1)


class SFAV(FrameModel):
    """SFAV with intermediate-attention fusion ('ia', the default of ``katerynaCh/multimodal-emotion-recognition``).

    Audio: two stages of Conv1d(k=3, 'valid') + BN + ReLU + MaxPool(2, 1) blocks; video: two stages of
    Conv1d(k=3, 'same') + BN + ReLU blocks. After stage 1 an attention map in each direction (audio queries over
    video keys and vice versa), averaged over heads and summed over queries, scales every time step of the other
    modality. Stage 2, mean over time, concatenation, linear classifier. Training uses the source's "softhard"
    modality augmentation (:meth:`loss`): every batch becomes 4×B — the original; audio×c with video×(1−c), c
    drawn per clip from {0, 0.01, …, 0.99}; audio zeroed; video zeroed.

    Deviations: inputs are our features (learnable layer sum of the SSL audio layers instead of 10 MFCCs; the
    video features instead of EfficientFace's 1024-d frame embeddings, so no face CNN is trained); clips shorter
    than the 13 steps the valid audio convolutions need are zero-padded to 13 (the source crops/pads every clip to
    3.6 s); every mean, attention key and query set excludes batch padding (lost frames stay in as
    zero frames: mask-blind, as the source), and weights are zero on excluded steps; BatchNorm statistics in training include padded
    steps. The recipe's step schedule (×0.1 at epochs 40, 55, 65, 70) and SGD dampening 0.9 are not reproduced.
    """

    name = "sfav"
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = ("Chumachenko et al., Self-attention fusion for audiovisual emotion recognition with incomplete data, "
             "ICPR 2022")
    configs = {
        "tiny": dict(audio_channels=(16, 32, 32, 32), video_channels=(16, 16, 32, 32), heads=1, frame_pool=(5, 3)),
        "paper": dict(audio_channels=(64, 128, 256, 128), video_channels=(64, 64, 128, 128), heads=1),
    }
    recipes = {
        "paper": Recipe(optimizer="sgd", lr=0.04, momentum=0.9, weight_decay=1e-3, batch_size=8, epochs=100,
                        loss="ce", source="SFAV opts.py defaults (LR steps and dampening not reproduced)"),
        "tiny": Recipe(optimizer="sgd", lr=0.04, momentum=0.9, weight_decay=1e-3, batch_size=32, epochs=5,
                       loss="ce", source="SFAV recipe with batch 32 and 5 epochs so the tiny model trains in seconds"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *,
                 audio_channels: tuple[int, int, int, int] = (64, 128, 256, 128),
                 video_channels: tuple[int, int, int, int] = (64, 64, 128, 128), heads: int = 1,
                 frame_pool: tuple[int, int] | None = None) -> None:
        super().__init__(dims, n_outputs, task, frame_pool)
        a, v = audio_channels, video_channels
        self.front = FrameFrontend(dims, {"audio": None, "video": None}, bias=False)
        self.audio_stage1 = nn.Sequential(audio_block(dims.dim("audio"), a[0]), audio_block(a[0], a[1]))
        self.audio_stage2 = nn.Sequential(audio_block(a[1], a[2]), audio_block(a[2], a[3]))
        self.video_stage1 = nn.ModuleList([video_block(dims.dim("video"), v[0]), video_block(v[0], v[1])])
        self.video_stage2 = nn.ModuleList([video_block(v[1], v[2]), video_block(v[2], v[3])])
        self.audio_to_video = AttentionMap(a[1], v[1], a[1], heads)  # audio queries weigh video steps
        self.video_to_audio = AttentionMap(v[1], a[1], v[1], heads)  # video queries weigh audio steps
        self.classifier = nn.Linear(a[3] + v[3], n_outputs)

    @staticmethod
    def _video(stage: nn.ModuleList, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """'same' blocks, re-zeroing batch padding after each so that the next block sees the zero padding a
        lone clip would see."""
        for block in stage:
            x = block(x) * valid[:, None, :].to(x.dtype)
        return x

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        frames, keep, lengths = self.sequences(frames, batch)
        audio, keep_a, keep_v = frames["audio"], keep["audio"], keep["video"]
        short = MIN_AUDIO_STEPS - audio.shape[1]
        if short > 0:
            audio = nn.functional.pad(audio, (0, 0, 0, short))
            keep_a = nn.functional.pad(keep_a, (0, short))
        keep_a1 = shrink_keep(keep_a, (lengths["audio"] - (STAGE_WINDOW - 1)).clamp(min=1), STAGE_WINDOW)
        keep_a2 = shrink_keep(keep_a1, (lengths["audio"] - 2 * (STAGE_WINDOW - 1)).clamp(min=1), STAGE_WINDOW)

        a1 = self.audio_stage1(audio.transpose(1, 2))
        valid_v = valid_mask(lengths["video"], frames["video"].shape[1])
        v1 = self._video(self.video_stage1, frames["video"].transpose(1, 2), valid_v)
        video_weights = self.audio_to_video(a1.transpose(1, 2), v1.transpose(1, 2), keep_a1, keep_v)
        audio_weights = self.video_to_audio(v1.transpose(1, 2), a1.transpose(1, 2), keep_v, keep_a1)
        a2 = self.audio_stage2(a1 * audio_weights[:, None, :])
        v2 = self._video(self.video_stage2, v1 * video_weights[:, None, :], valid_v)
        pooled = [masked_mean(a2.transpose(1, 2), keep_a2), masked_mean(v2.transpose(1, 2), keep_v)]
        return self.classifier(torch.cat(pooled, dim=-1))

    @classmethod
    def training_regulariser(cls, settings: dict[str, Any]) -> str:
        """The source's "softhard" batches: every clip also as a soft audio/video mix, audio zeroed and video zeroed
        — a modality-dropout-like augmentation, so a protocol without loss-related augmentation switches it off."""
        return "softhard batches (soft mixes and one-modality-zeroed copies)"

    def loss(self, batch: Batch, targets: Targets, criterion: nn.Module) -> torch.Tensor:
        """The source's "softhard" augmentation: original, soft mix, audio zeroed, video zeroed (4×B); the plain
        loss when a training protocol switches it off (``regularise = False``)."""
        if not self.regularise:
            return super().loss(batch, targets, criterion)
        frames = self.frames(batch)
        a, v = frames["audio"], frames["video"]
        c = torch.randint(0, 100, (batch.size, 1, 1), device=a.device).to(a.dtype) / 100
        big_frames = {"audio": torch.cat([a, a * c, torch.zeros_like(a), a]),
                      "video": torch.cat([v, v * (1 - c), v, torch.zeros_like(v)])}
        b = batch.size
        big = fuse_view(self, batch).apply(lambda t: t.repeat(4, *([1] * (t.dim() - 1))))
        big.masks["audio"][2 * b: 3 * b] = False
        big.masks["video"][3 * b:] = False
        return criterion(self.fuse(big_frames, big), targets.apply(lambda t: t.repeat(4, 1)))
