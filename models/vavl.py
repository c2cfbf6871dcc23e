"""VAVL: versatile audio-visual learning (Goncalves et al., IEEE TAFFC 2025; arXiv 2305.07216)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from avbench.data.batching import Batch, Targets
from avbench.models.base import FeatureDims, Frames, Recipe, fuse_view
from avbench.models.layers import FrameFrontend, FrameModel, check_heads, masked_mean, valid_mask
from avbench.tasks import get as get_task


def relative_sinusoid(steps: int, dim: int, device: torch.device) -> torch.Tensor:
    """Interleaved sin/cos encodings of the relative distances T−1 … −(T−1) (Transformer-XL)."""
    distance = torch.arange(steps - 1, -steps, -1, device=device, dtype=torch.float32)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * -(math.log(10000.0) / dim))
    table = torch.zeros(distance.shape[0], dim, device=device)
    table[:, 0::2] = torch.sin(distance[:, None] * freq)
    table[:, 1::2] = torch.cos(distance[:, None] * freq)[:, : dim // 2]
    return table


class RelativeSelfAttention(nn.Module):
    """Conformer MHSA with relative positions: score = ((q+u)·k + (q+v)·R_{i−j}) / √d_model (sooftware's scaling)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.heads, self.scale = heads, math.sqrt(dim)
        self.norm = nn.LayerNorm(dim)
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.pos = nn.Linear(dim, dim, bias=False)
        self.u_bias = nn.Parameter(nn.init.xavier_uniform_(torch.empty(heads, dim // heads)))
        self.v_bias = nn.Parameter(nn.init.xavier_uniform_(torch.empty(heads, dim // heads)))
        self.attn_drop, self.drop = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.norm(x)
        q = self.q(h).view(b, t, self.heads, -1)
        k = self.k(h).view(b, t, self.heads, -1).transpose(1, 2)
        v = self.v(h).view(b, t, self.heads, -1).transpose(1, 2)
        rel = self.pos(relative_sinusoid(t, d, x.device)).view(2 * t - 1, self.heads, -1)
        content = (q + self.u_bias).transpose(1, 2) @ k.transpose(2, 3)
        pos = torch.einsum("bihd,rhd->bhir", q + self.v_bias, rel)
        index = (torch.arange(t, device=x.device)[None, :] - torch.arange(t, device=x.device)[:, None]) + t - 1
        pos = pos.gather(-1, index.expand(b, self.heads, t, t))  # row i, column j ← distance i − j
        score = (content + pos) / self.scale
        empty = ~keep.any(1)
        allowed = (keep | empty[:, None])[:, None, None, :]
        attn = self.attn_drop(torch.softmax(score.masked_fill(~allowed, torch.finfo(score.dtype).min), dim=-1))
        out = self.out((attn @ v).transpose(1, 2).reshape(b, t, d)) * (~empty).to(x.dtype)[:, None, None]
        return self.drop(out)


class ConvModule(nn.Module):
    """Conformer convolution module: LN, pointwise ×2 + GLU, depthwise conv, BatchNorm, Swish, pointwise."""

    def __init__(self, dim: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.pointwise1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) // 2, groups=dim, bias=False)
        self.bn = nn.BatchNorm1d(dim)
        self.pointwise2 = nn.Conv1d(dim, dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        h = F.glu(self.pointwise1(self.norm(x).transpose(1, 2)), dim=1)
        h = h * keep[:, None, :].to(h.dtype)  # excluded steps act like the conv's own zero padding
        h = self.pointwise2(F.silu(self.bn(self.depthwise(h))))
        return self.drop(h.transpose(1, 2))


def feed_forward(dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Dropout(dropout),
                         nn.Linear(4 * dim, dim), nn.Dropout(dropout))


class ConformerBlock(nn.Module):
    """Half-step FFN, relative MHSA, convolution module, half-step FFN, LayerNorm (Gulati et al.)."""

    def __init__(self, dim: int, heads: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.ff1, self.ff2 = feed_forward(dim, dropout), feed_forward(dim, dropout)
        self.attn = RelativeSelfAttention(dim, heads, dropout)
        self.conv = ConvModule(dim, kernel, dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn(x, keep)
        x = x + self.conv(x, keep)
        return self.norm(x + 0.5 * self.ff2(x))


class Conformer(nn.Module):
    """sooftware Conformer encoder without subsampling (as VAVL modified it): input Linear + dropout, blocks."""

    def __init__(self, input_dim: int, dim: int, blocks: int, heads: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.input = nn.Sequential(nn.Linear(input_dim, dim), nn.Dropout(dropout))
        self.blocks = nn.ModuleList(ConformerBlock(dim, heads, kernel, dropout) for _ in range(blocks))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.input(x)
        for block in self.blocks:
            x = block(x, keep)
        return x


class VAVLHead(nn.Module):
    """VAVL's MLP: Linear(in, d)-ReLU-Dropout, Linear(d, hidden), Linear(hidden, out) (no activation between the
    last two, as in the source)."""

    def __init__(self, in_dim: int, d: int, hidden: int, n_outputs: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d, hidden),
                                 nn.Linear(hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class VAVL(FrameModel):
    """VAVL (authors-code-facts §2.4): per modality a bias-free Conv1d(k=1) projection and a 3-block Conformer;
    a 2-block Conformer shared by both modalities (outer residual + LayerNorm, then temporal mean); unimodal heads
    MLP_a / MLP_v, reconstruction MLPs that predict the time-mean of the input features (MSE), and a fusion head
    on [rep_a; rep_v]. :meth:`train_step` makes the source's three updates per batch: video-only, audio-only
    (criterion + reconstruction, weight 2 for emotions; for attributes 1/3 because the harness's CCC criterion is
    the mean, not the sum, over the three attributes), then the fusion head alone with the encoders in eval mode.

    Deviations: the source feeds (T, B, D) into the batch-first Conformer, so its attention and convolution run
    across the *batch* axis; here the Conformer runs over time as intended. Relative positions use the exact
    distance i − j (sooftware builds them from a shifted absolute table). Audio is the learnable layer sum of the
    SSL layers (the source: last layer of a 12-layer wav2vec2-large-robust), and its reconstruction target is the
    time-mean of that sum, detached (the source's target comes from the frozen encoder). Padding is excluded from
    attention, convolutions and means (the source has no padding mask); lost frames stay in as zero frames, as in
    the source (mask-blind: ``sees_masks = False``).
    """

    name = "vavl"
    modalities = ("audio", "video")
    tasks = ("emotion", "attributes")
    paper = "Goncalves et al., Versatile Audio-Visual Learning for Emotion Recognition, IEEE TAFFC 2025"
    configs = {
        "tiny": dict(d_proj=16, d=32, hidden=16, heads=2, blocks=1, shared_blocks=1, kernel=15, frame_pool=(5, 3)),
        "paper": dict(d_proj=50, d=512, hidden=256, heads=8, blocks=3, shared_blocks=2, kernel=31),
    }
    recipes = {
        "paper": Recipe(optimizer="adam", lr=5e-5, weight_decay=5e-7, betas=(0.95, 0.999), batch_size=32, epochs=20,
                        loss="ce", source="VAVL run_cremad.sh / modelWrapper.py (one Adam per module, AMP)"),
        "tiny": Recipe(optimizer="adam", lr=1e-3, weight_decay=5e-7, betas=(0.95, 0.999), batch_size=32, epochs=4,
                       loss="ce", source="VAVL recipe with lr 1e-3 and 4 epochs so the tiny model trains in seconds"),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion", *, d_proj: int = 50, d: int = 512,
                 hidden: int = 256, heads: int = 8, blocks: int = 3, shared_blocks: int = 2, kernel: int = 31,
                 dropout: float = 0.1, out_dropout: float = 0.2,
                 frame_pool: tuple[int, int] | None = None) -> None:
        super().__init__(dims, n_outputs, task, frame_pool)
        self.front = FrameFrontend(dims, {"audio": d_proj, "video": d_proj}, bias=False)
        self.encoders = nn.ModuleDict({m: Conformer(d_proj, d, blocks, heads, kernel, dropout)
                                       for m in self.modalities})
        self.shared = Conformer(d, d, shared_blocks, heads, kernel, dropout)
        self.shared_norm = nn.LayerNorm(d)
        self.heads = nn.ModuleDict({m: VAVLHead(d, d, hidden, n_outputs, out_dropout) for m in self.modalities})
        self.reconstruct = nn.ModuleDict({m: VAVLHead(d, d, hidden, dims.dim(m), out_dropout) for m in self.modalities})
        self.fusion = VAVLHead(2 * d, d, hidden, n_outputs, out_dropout)
        self.rec_weight = 1.0 / 3.0 if get_task(task).scalar_outputs else 2.0

    def represent(self, modality: str, frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Modality encoder → shared Conformer (+ residual, LayerNorm) → mean over kept steps: (B, d)."""
        h = self.encoders[modality](frames, keep)
        h = self.shared_norm(self.shared(h, keep) + h)
        return masked_mean(h, keep)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        frames, keep, _ = self.sequences(frames, batch)
        return self.fusion(torch.cat([self.represent(m, frames[m], keep[m]) for m in self.modalities], dim=-1))

    def unimodal_loss(self, modality: str, batch: Batch, targets: Targets, criterion: nn.Module) -> torch.Tensor:
        """Criterion of the unimodal head plus the weighted reconstruction MSE (steps 1 and 2 of the source)."""
        frames = self.frames(batch, (modality,))[modality]
        frames, keep, _ = self.sequence(modality, frames, fuse_view(self, batch))
        rep = self.represent(modality, frames, keep)
        x = batch.inputs[modality]
        if modality in self.front.layer_sum:
            x = self.front.layer_sum[modality](x)
        steps = valid_mask(batch.lengths[modality], x.shape[1])
        target = masked_mean(x, steps).detach()
        rec = F.mse_loss(self.reconstruct[modality](rep), target)
        return criterion(self.heads[modality](rep), targets) + self.rec_weight * rec

    @contextmanager
    def _encoders_frozen(self) -> Iterator[None]:
        """Eval mode for everything but the fusion head (step 3 of the source), restored afterwards."""
        modes = {name: module.training for name, module in self.named_children()}
        for name, module in self.named_children():
            if name != "fusion":
                module.eval()
        try:
            yield
        finally:
            for name, module in self.named_children():
                module.train(modes[name])

    def fusion_loss(self, batch: Batch, targets: Targets, criterion: nn.Module) -> torch.Tensor:
        """Step 3: the fusion head's criterion on representations computed without gradient, encoders in eval."""
        with self._encoders_frozen(), torch.no_grad():
            frames, keep, _ = self.sequences(self.frames(batch), fuse_view(self, batch))
            reps = torch.cat([self.represent(m, frames[m], keep[m]) for m in self.modalities], dim=-1)
        return criterion(self.fusion(reps), targets)

    def train_step(self, batch: Batch, targets: Targets, criterion: nn.Module, optimizer: torch.optim.Optimizer,
                   grad_clip: float | None = None) -> float:
        """Three updates with the harness's single optimizer: parameters without a gradient in an update are
        skipped by it, which reproduces the source's one-optimizer-per-module stepping. Returns the fusion loss
        (what the source logs as the training loss)."""
        losses = (lambda: self.unimodal_loss("video", batch, targets, criterion),
                  lambda: self.unimodal_loss("audio", batch, targets, criterion),
                  lambda: self.fusion_loss(batch, targets, criterion))
        value = 0.0
        for compute in losses:
            value = self.update(compute(), optimizer, grad_clip)
        optimizer.zero_grad(set_to_none=True)
        return value
