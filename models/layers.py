"""Building blocks shared by the audio-visual models.

Everything here is mask-aware in one way: an attention query whose allowed key set is empty (a clip whose frames
were all lost, or a modality that is 100 % missing) receives a *zero update* instead of a softmax over nothing,
and every pooling returns zeros when no frame is received. That is what keeps every model finite under any mask.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from avbench.data.batching import Batch
from avbench.errors import UserError
from avbench.models.base import EmotionModel, FeatureDims, Frames, require_modalities


# -- masks ------------------------------------------------------------------------------------------------------------
def valid_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, steps) bool: True inside each clip, False on batch padding."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def last_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x[b, lengths[b] - 1]: the last unpadded step (step 0 for an empty clip), as the sources' "last time step"."""
    index = (lengths.clamp(min=1, max=x.shape[1]) - 1).to(x.device)
    return x[torch.arange(x.shape[0], device=x.device), index]


def masked_mean(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean over the kept steps of (B, T, D); zeros for a clip with no kept step."""
    w = keep.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp(min=1.0)


def _any_in_window(keep: torch.Tensor, window: int) -> torch.Tensor:
    """(B, T) → (B, T - window + 1): True where any step of the window starting there is kept."""
    return F.max_pool1d(keep.to(torch.float32).unsqueeze(1), window, stride=1).squeeze(1) > 0


def shrink_keep(keep: torch.Tensor, out_lengths: torch.Tensor, window: int) -> torch.Tensor:
    """Keep-mask after a 'valid' temporal operator with receptive field ``window``: an output step is received
    when any input in its window is, and exists only below ``out_lengths``."""
    pooled = _any_in_window(keep, window)
    return pooled & valid_mask(out_lengths, pooled.shape[1])


def pool_frames(x: torch.Tensor, keep: torch.Tensor, lengths: torch.Tensor,
                size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Average non-overlapping windows of ``size`` steps over their kept steps (windows start at each clip's first
    step, so the result does not depend on batch padding). A window is kept when any of its steps is; a window with
    no kept step is zero. Returns the pooled (B, ⌈T/size⌉, D), its keep-mask and the pooled lengths ⌈L/size⌉."""
    b, t, d = x.shape
    pad = -t % size
    w = F.pad(keep, (0, pad)).view(b, -1, size).to(x.dtype)
    xs = F.pad(x, (0, 0, 0, pad)).view(b, -1, size, d)
    pooled = (xs * w.unsqueeze(-1)).sum(2) / w.sum(2, keepdim=True).clamp(min=1.0)
    return pooled, w.sum(2) > 0, torch.div(lengths + size - 1, size, rounding_mode="floor")


# -- positions ----------------------------------------------------------------------------------------------------
def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """fairseq/tensor2tensor table: [sin | cos] halves (not interleaved), as MulT and AuxFormer use."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, device=positions.device, dtype=torch.float32)
                     * -(math.log(10000.0) / max(half - 1, 1)))
    angles = positions.to(torch.float32).unsqueeze(-1) * freq
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    return F.pad(table, (0, dim - 2 * half))


def first_channel_positions(x: torch.Tensor) -> torch.Tensor:
    """MulT's ``make_positions``: step t gets position t+1, but a step whose first channel is exactly 0 is taken
    for padding and gets the zero vector. After a bias-free projection this strips zero-filled (lost) frames of
    their position embedding: a quirk of the source kept on purpose because it changes robustness."""
    steps = torch.arange(1, x.shape[1] + 1, device=x.device)  # one (T, D) table, broadcast over the batch
    return sinusoid(steps, x.shape[-1]) * (x[..., 0] != 0).unsqueeze(-1).to(x.dtype)


# -- attention ----------------------------------------------------------------------------------------------------
def check_heads(dim: int, heads: int) -> None:
    """Bad width/heads overrides are user errors, not shape errors deep inside a forward pass."""
    if heads < 1 or dim % heads:
        raise UserError(f"attention width {dim} is not divisible by {heads} heads")


class Attention(nn.Module):
    """Multi-head attention restricted to allowed keys; a query with no allowed key gets a zero output."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        for lin in (self.q, self.k, self.v, self.out):  # nn.MultiheadAttention's init, as the sources use it
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                allowed: torch.Tensor) -> torch.Tensor:
        """``allowed``: (B, 1 or Lq, Lk) bool, True where the query may look at the key."""
        empty = ~allowed.any(-1)  # (B, 1 or Lq)
        mask = (allowed | empty.unsqueeze(-1)).unsqueeze(1)  # an empty row attends uniformly, then is zeroed
        out = F.scaled_dot_product_attention(self._split(self.q(query)), self._split(self.k(key)),
                                              self._split(self.v(value)), attn_mask=mask,
                                              dropout_p=self.dropout if self.training else 0.0)
        out = self.out(out.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1))
        return out * (~empty).unsqueeze(-1).to(out.dtype)


def key_mask(keep: torch.Tensor) -> torch.Tensor:
    """(B, Lk) keep-mask → (B, 1, Lk) ``allowed`` for :class:`Attention`."""
    return keep.unsqueeze(1)


def causal_allowed(keep: torch.Tensor, q_lengths: torch.Tensor, k_lengths: torch.Tensor,
                   q_steps: int) -> torch.Tensor:
    """MulT's future mask, per clip: query i may see key j ≤ i + |Lk − Lq| (the source's ``triu(·, 1+|Lk−Lq|)``).
    Using each clip's own lengths instead of the padded batch lengths keeps outputs independent of the batch."""
    offset = (k_lengths - q_lengths).abs()
    i = torch.arange(q_steps, device=keep.device)[None, :, None]
    j = torch.arange(keep.shape[1], device=keep.device)[None, None, :]
    return keep.unsqueeze(1) & (j <= i + offset[:, None, None])


class CrossmodalLayer(nn.Module):
    """fairseq pre-LN encoder layer of MulT/AuxFormer; optional learnable scalar residual gate (AuxFormer)."""

    def __init__(self, dim: int, heads: int, attn_dropout: float, relu_dropout: float, res_dropout: float,
                 gated: bool = False) -> None:
        super().__init__()
        self.attn = Attention(dim, heads, attn_dropout)
        self.norm_attn, self.norm_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        for lin in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.relu_dropout, self.res_dropout = relu_dropout, res_dropout
        self.alpha = nn.Parameter(torch.rand(1)) if gated else None

    def _residual(self, residual: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        update = F.dropout(update, self.res_dropout, self.training)
        if self.alpha is None:
            return residual + update
        return residual * self.alpha + update * (1 - self.alpha)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm_attn(x)
        k = h if key is None else self.norm_attn(key)
        v = h if value is None else self.norm_attn(value)
        x = self._residual(x, self.attn(h, k, v, allowed))
        h = F.dropout(F.relu(self.fc1(self.norm_ffn(x))), self.relu_dropout, self.training)
        return self._residual(x, self.fc2(h))


class CrossmodalTransformer(nn.Module):
    """MulT's ``TransformerEncoder``: inputs scaled by √d plus (optionally) sinusoidal positions, embedding
    dropout, pre-LN layers, final LayerNorm. With a source sequence it is a crossmodal transformer whose keys and
    values are the source embedded once and reused by every layer."""

    def __init__(self, dim: int, heads: int, layers: int, attn_dropout: float = 0.0, relu_dropout: float = 0.0,
                 res_dropout: float = 0.0, embed_dropout: float = 0.0, positions: bool = True,
                 gated: bool = False) -> None:
        super().__init__()
        self.scale, self.positions, self.embed_dropout = math.sqrt(dim), positions, embed_dropout
        self.layers = nn.ModuleList(CrossmodalLayer(dim, heads, attn_dropout, relu_dropout, res_dropout, gated)
                                    for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        e = self.scale * x
        if self.positions:
            e = e + first_channel_positions(x)
        return F.dropout(e, self.embed_dropout, self.training)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        """``allowed`` restricts keys (of ``source`` when given, else of ``x``): see :func:`key_mask`."""
        h = self._embed(x)
        key = value = None
        if source is not None:  # separate dropout draws for K and V, as in the source
            key, value = self._embed(source), self._embed(source)
        for layer in self.layers:
            h = layer(h, allowed, key, value)
        return self.norm(h)


class TransformerLayer(nn.Module):
    """Vaswani et al. post-LN layer: self-attention, optional cross-attention to a memory, ReLU FFN (4·d)."""

    def __init__(self, dim: int, heads: int, dropout: float, cross: bool = False) -> None:
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.cross_attn = Attention(dim, heads, dropout) if cross else None
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3 if cross else 2))
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, memory: torch.Tensor | None = None,
                memory_allowed: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norms[0](x + self.drop(self.self_attn(x, x, x, allowed)))
        if self.cross_attn is not None:
            if memory is None or memory_allowed is None:
                raise ValueError("a cross-attention layer needs a memory and its mask")
            x = self.norms[1](x + self.drop(self.cross_attn(x, memory, memory, memory_allowed)))
        return self.norms[-1](x + self.drop(self.ffn(x)))


# -- pooling and heads --------------------------------------------------------------------------------------------
class AttentiveStatsPool(nn.Module):
    """Okabe et al. attentive statistics pooling as in the MSP-Podcast challenge baseline: w = softmax_t(vᵀ tanh(W
    h_t + b)) over kept steps, output [Σ w h ; sqrt(clamp(Σ w h² − μ², 1e-5))] (2·D); zeros when nothing is kept."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.v = nn.Parameter(torch.randn(dim, 1))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        scores = (torch.tanh(self.proj(x)) @ self.v).squeeze(-1)
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        w = (torch.softmax(scores, dim=1) * keep.to(x.dtype)).unsqueeze(-1)
        mu = (w * x).sum(1)
        std = torch.sqrt(((w * x * x).sum(1) - mu * mu).clamp(min=1e-5))
        return torch.cat([mu, std], dim=-1) * keep.any(1, keepdim=True).to(x.dtype)


def mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU-Dropout between consecutive ``sizes``, the last Linear bare."""
    parts: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        parts.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            parts += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*parts)


# -- front-end ------------------------------------------------------------------------------------------------------
class LayerWeightedSum(nn.Module):
    """s3prl ``Featurizer``: one scalar per SSL layer, initialised to 0 (uniform after softmax), no layer norm."""

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., layers, dim) → (..., dim)."""
        return torch.einsum("...ld,l->...d", x, torch.softmax(self.weights, dim=0))


class FrameFrontend(nn.Module):
    """Per-frame, mask-independent part of every model: audio layer sum, then an optional k=1 projection
    (a Conv1d with kernel 1 is the same map as a Linear applied to every frame)."""

    def __init__(self, dims: FeatureDims, project: dict[str, int | None], bias: bool) -> None:
        super().__init__()
        self.layer_sum = nn.ModuleDict()
        self.proj = nn.ModuleDict()
        for m, out in project.items():
            if len(dims.shapes[m]) == 2:
                self.layer_sum[m] = LayerWeightedSum(dims.layers(m))
            if out is not None:
                self.proj[m] = nn.Linear(dims.dim(m), out, bias=bias)
        self.modalities = tuple(project)

    def forward(self, inputs: dict[str, torch.Tensor]) -> Frames:
        out: Frames = {}
        for m in self.modalities:
            if m not in inputs:
                continue
            x = inputs[m]
            if m in self.layer_sum:
                x = self.layer_sum[m](x)
            out[m] = self.proj[m](x) if m in self.proj else x
        return out


class FrameModel(EmotionModel):
    """Base of the audio-visual models: ``self.front`` is the frontend, the class attribute ``sees_masks`` the mask
    policy and ``frame_pool`` an optional temporal average pooling (one window size per modality, in
    ``modalities`` order).

    ``sees_masks = True``: attention and pooling see only received frames (RAVER's design, ``late-fusion-masked``).
    ``sees_masks = False``: lost frames stay in as the zero-filled frames the authors' code feeds its models, and
    only batch padding is excluded; this is each baseline's declaration, so that it behaves as in its source. The
    policy is a class attribute rather than a ``--set`` option so that a leaderboard row always names one policy
    (a mask-aware variant is a separately registered model). ``frame_pool`` exists for the
    tiny configs, whose models attend over raw frames and must train in seconds on a CPU: it is applied in
    :meth:`sequences` (inside ``fuse``), after the frontend, so the frontend stays per-frame.
    """

    front: FrameFrontend

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str,
                 frame_pool: Sequence[int] | None = None) -> None:
        super().__init__(dims, n_outputs, task)
        require_modalities(self.name, self.modalities, dims.shapes)
        pool = tuple(frame_pool) if frame_pool is not None else (1,) * len(self.modalities)
        if len(pool) != len(self.modalities) or any(int(p) != p or p < 1 for p in pool):
            raise UserError(f"frame_pool of {self.name!r} needs one positive integer per modality "
                            f"({', '.join(self.modalities)}), got {frame_pool!r}")
        self.frame_pool = dict(zip(self.modalities, (int(p) for p in pool)))

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        return self.front(inputs)

    def keep(self, batch: Batch, modality: str) -> torch.Tensor:
        """(B, T) frames the model may look at under its mask policy (also inside its own training augmentations,
        which the harness's :func:`~avbench.models.base.visible` does not see)."""
        if self.sees_masks:
            return batch.masks[modality]
        return valid_mask(batch.lengths[modality], batch.masks[modality].shape[1])

    def sequence(self, modality: str, x: torch.Tensor,
                 batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One modality's frames, keep-mask and lengths, after ``frame_pool``."""
        keep, lengths = self.keep(batch, modality), batch.lengths[modality]
        size = self.frame_pool[modality]
        return pool_frames(x, keep, lengths, size) if size > 1 else (x, keep, lengths)

    def sequences(self, frames: Frames, batch: Batch) -> tuple[Frames, dict[str, torch.Tensor],
                                                                dict[str, torch.Tensor]]:
        """:meth:`sequence` for every modality of the model: (frames, keep-masks, lengths)."""
        out = {m: self.sequence(m, frames[m], batch) for m in self.modalities}
        return ({m: v[0] for m, v in out.items()}, {m: v[1] for m, v in out.items()},
                {m: v[2] for m, v in out.items()})
