"""The word-chunk transformer of Lin, Goncalves & Busso (ICMI'23) with its three alignment strategies.

The audio frames of a clip are cut into one chunk per word (:mod:`avbench.models.chunking`), each chunk is
flattened by temporal pyramid pooling into a 7·D vector, and the chunk sequence meets the word-vector sequence in
a transformer: a ``<SUM>`` token (all ones) is prepended to both streams, bias-free linear projections map them to
d, sinusoidal positions are added, post-LN self-attention layers run per modality, then co-attention layers let
each modality attend to the other, and the two ``<SUM>`` outputs feed the heads.

Decisions (the paper and ``authors-code-facts.md`` §2.1 leave them open or the code has a quirk):

* audio features: the paper feeds the last hidden state of wav2vec2-large-robust; like every audio model in
  avbench, these models learn a softmax-weighted sum of the stored SSL layers instead (s3prl ``Featurizer``,
  initialised uniform), which can still settle on the last layer. It keeps the comparison with the other models
  about fusion and robustness rather than about a fixed layer choice, and the embedded synthetic corpus, like real
  SSL features, carries its evidence in the upper-middle layers. The MDRE baselines share this frontend;
* co-attention follows the paper (§3.3, "the query of the cross-modal attention model comes from another
  modality") and the authors' code: a stream is updated by attention whose *queries come from the other stream*
  and whose keys and values are its own tokens (own padding mask), added position by position to its own
  sequence. The authors pad both streams to 128 so positions always exist on both sides; here the other stream's
  tokens are cut or zero-padded to the own stream's length (a position past the other stream's end queries with
  a zero vector) and the update is zeroed on own padding. The read-out ``<SUM>`` tokens sit at position 0 of both
  streams, so the ``<SUM>`` of audio absorbs audio chunks as the text ``<SUM>`` asks for them, which is what
  Fig. 4's word-drop robustness probes. The standard MulT direction (queries from the stream being updated, keys
  and values from the other) is kept as ``query_from="own"``, registered as the ``*-ownquery`` models with their
  own leaderboard rows. Both directions read the previous layer's outputs;
* lost frames and dropped words stay in the sequences as zeros (the authors zero them and pass no mask): the
  transformer's key padding masks cover only padding, and the ``<SUM>`` token is always a valid key;
* sequences hold at most ``max_len`` tokens including ``<SUM>`` (128 in the paper); longer clips keep their first
  ``max_len - 1`` words, and Align-FW spreads at most that many chunks over the whole clip;
* the audio-only (SER) variants of §5.3 drop the text stream and replace the co-attention layers by
  self-attention layers; they still read the word count and times from ``batch.word_times``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from avbench.data.batching import Batch
from avbench.errors import UserError, unknown
from avbench.models.base import EmotionModel, FeatureDims, Frames, Recipe, require_modalities
from avbench.models.chunking import (
    TPP_SEGMENTS,
    ChunkBounds,
    fw_bounds,
    multiscale_bounds,
    temporal_pyramid_pool,
    vw_bounds,
    word_counts,
)
from avbench.models.layers import FrameFrontend
from avbench.tasks import get as get_task

STRATEGIES = ("vw", "fw", "multiscale")
PAPER = "Lin, Goncalves & Busso, ICMI 2023 (doi:10.1145/3577190.3614110)"
DEFAULT_AUDIO_RATE = 50.0

QUERY_FROM = ("other", "own")  # co-attention queries: from the other stream (paper, default) or the own (MulT)
_PAPER_CONFIG: dict[str, Any] = {
    "d_model": 256, "heads": 4, "ffn": 512, "self_layers": 3, "co_layers": 2, "dropout": 0.3, "pe_dropout": 0.1,
    "max_len": 128, "chunk_seconds": 1.0, "scales": (0.2, 0.4, 0.6, 0.8, 1.0), "query_from": "other",
}
# tiny: a smaller network (d 32, 1 self + 1 co layer, FFN 64, lighter dropout) so that it trains in seconds on CPU;
# the chunking itself (1 s chunks, scale set, TPP) is unchanged
_TINY_CONFIG: dict[str, Any] = {**_PAPER_CONFIG, "d_model": 32, "ffn": 64, "self_layers": 1, "co_layers": 1,
                                "dropout": 0.1}
PAPER_RECIPE = Recipe(
    optimizer="adam", lr=1e-4, batch_size=128, epochs=10, loss="ccc",
    source="ICMI'23 §4.3 and authors' main.py: Adam 1e-4, batch 128, 1-CCC averaged over the attributes, best dev "
           "CCC kept; 5000 iterations of 128 clips ≈ 10 epochs of the MSP-Podcast v1.10 train set",
)
TINY_RECIPE = PAPER_RECIPE.updated(
    lr=1e-3, batch_size=32, epochs=8,
    source="shortened for the tiny benchmark: lr 1e-3, batch 32, 8 epochs (paper: Adam 1e-4, batch 128)",
)


def _configs(strategy: str, query_from: str = "other") -> dict[str, dict[str, Any]]:
    return {"tiny": {**_TINY_CONFIG, "strategy": strategy, "query_from": query_from},
            "paper": {**_PAPER_CONFIG, "strategy": strategy, "query_from": query_from}}


def audio_rate(batch: Batch) -> float:
    """Audio frames per second of the batch (50 Hz SSL features when the store does not say)."""
    return float(batch.rates.get("audio") or DEFAULT_AUDIO_RATE)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sine/cosine position encoding of Vaswani et al., then dropout."""

    def __init__(self, d_model: int, max_len: int, dropout: float) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * rate)
        table[:, 1::2] = torch.cos(position * rate)[:, : d_model // 2]
        self.register_buffer("table", table, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.table[: x.shape[1]])


class AttentionLayer(nn.Module):
    """Post-LN transformer layer: attention of ``x`` over ``context`` (itself for self-attention), then a
    bias-free GELU feed-forward block, each followed by residual and LayerNorm as in the authors' layers."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, ffn, bias=False), nn.GELU(), nn.Dropout(dropout),
                                          nn.Linear(ffn, d_model, bias=False))
        self.norm_attention = nn.LayerNorm(d_model)
        self.norm_feed_forward = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_padding: torch.Tensor,
                query: torch.Tensor | None = None) -> torch.Tensor:
        """Attention of ``query`` (default ``x``; same length as ``x``) over ``context``, residual on ``x``.

        The context's padding goes in as a per-head ``attn_mask``, which MultiheadAttention adds to the scores
        exactly as it adds a ``key_padding_mask`` (the outputs are bit-identical): its check of a key-padding mask
        imports sympy, ~0.45 s in every process that runs these models."""
        query = x if query is None else query
        heads = self.attention.num_heads
        padding = context_padding[:, None, None, :].expand(-1, heads, query.shape[1], -1).flatten(0, 1)
        attended, _ = self.attention(query, context, context, attn_mask=padding, need_weights=False)
        x = self.norm_attention(x + self.dropout(attended))
        return self.norm_feed_forward(x + self.dropout(self.feed_forward(x)))


def output_heads(in_dim: int, hidden: int, n_outputs: int, task: str) -> nn.ModuleList:
    """Linear-ReLU-Linear heads: one scalar head per attribute, or one head over all emotion logits."""
    sizes = [1] * n_outputs if get_task(task).scalar_outputs else [n_outputs]
    return nn.ModuleList(nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, k)) for k in sizes)


class WordChunkTransformer(EmotionModel):
    """Word-chunk transformer; ``strategy`` picks the chunking: "vw" (word spans), "fw" (eq. 1), "multiscale"."""

    name: ClassVar[str] = "word-chunk"
    modalities: ClassVar[tuple[str, ...]] = ("audio", "text")
    tasks: ClassVar[tuple[str, ...]] = ("attributes", "emotion")
    paper: ClassVar[str] = PAPER
    configs: ClassVar[dict[str, dict[str, Any]]] = _configs("fw")
    recipes: ClassVar[dict[str, Recipe]] = {"tiny": TINY_RECIPE, "paper": PAPER_RECIPE}

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "attributes", *, strategy: str,
                 d_model: int, heads: int, ffn: int, self_layers: int, co_layers: int, dropout: float,
                 pe_dropout: float, max_len: int, chunk_seconds: float, scales: tuple[float, ...],
                 query_from: str = "other") -> None:
        super().__init__(dims, n_outputs, task)
        if strategy not in STRATEGIES:
            raise unknown("chunk strategy", strategy, STRATEGIES)
        if query_from not in QUERY_FROM:
            raise unknown("co-attention query source", query_from, QUERY_FROM)
        self.query_from = query_from
        if d_model % heads:
            raise UserError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        if max_len < 2:
            raise UserError(f"max_len must leave room for <SUM> and one chunk, got {max_len}")
        if chunk_seconds <= 0 or not scales or not all(0 < s <= chunk_seconds for s in scales):
            raise UserError(f"multi-scale sizes must lie in (0, chunk_seconds={chunk_seconds}], got {scales}")
        self.strategy = strategy
        self.max_len = max_len
        self.chunk_seconds = float(chunk_seconds)
        self.scales = tuple(float(s) for s in scales)
        self.uses_text = "text" in self.modalities
        streams = ["audio", "text"] if self.uses_text else ["audio"]
        require_modalities(self.name, streams, dims.shapes)
        in_dims = {m: TPP_SEGMENTS * dims.dim(m) if m == "audio" else dims.dim(m) for m in streams}

        def layers(n: int) -> nn.ModuleDict:
            return nn.ModuleDict({m: nn.ModuleList(AttentionLayer(d_model, heads, ffn, dropout) for _ in range(n))
                                  for m in streams})

        self.front = FrameFrontend(dims, {m: None for m in streams}, bias=False)
        self.project = nn.ModuleDict({m: nn.Linear(in_dims[m], d_model, bias=False) for m in streams})
        self.positions = SinusoidalPositions(d_model, max_len, pe_dropout)
        self.self_layers = layers(self_layers)
        self.co_layers = layers(co_layers)
        self.heads = output_heads(len(streams) * d_model, d_model, n_outputs, task)

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        return self.front(inputs)

    @classmethod
    def training_regulariser(cls, settings: dict[str, Any]) -> str:
        """Align-MultiScaleW's random chunk crops, redrawn at every step (a training-time regulariser: evaluation
        always uses the fixed Align-FW chunks, and so does training without it)."""
        return "random chunk alignments (multi-scale crops)" if settings.get("strategy") == "multiscale" else ""

    def chunk_bounds(self, batch: Batch, n_words: torch.Tensor) -> ChunkBounds:
        """Audio chunks of every clip under this model's strategy (multi-scale crops only while training)."""
        rate = audio_rate(batch)
        n_frames = batch.lengths["audio"]
        if self.strategy == "vw":
            return vw_bounds(batch.word_times[:, : self.max_len - 1], n_words, n_frames, rate)
        bounds = fw_bounds(n_words, n_frames, round(self.chunk_seconds * rate), max_chunks=self.max_len - 1)
        if self.strategy == "multiscale" and self.training and self.regularise:
            bounds = multiscale_bounds(bounds, [max(1, round(s * rate)) for s in self.scales])
        return bounds

    def _stream(self, modality: str, tokens: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prepend ``<SUM>``, project and add positions; returns (B, 1+N, d) and its key padding mask."""
        summary = tokens.new_ones(tokens.shape[0], 1, tokens.shape[2])
        x = self.positions(self.project[modality](torch.cat([summary, tokens], dim=1)))
        padding = torch.arange(x.shape[1], device=x.device)[None, :] > counts[:, None]
        return x, padding

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        if self.uses_text:
            n_words = batch.lengths["text"].long()
        else:
            n_words = word_counts(batch.word_times)
        n_words = n_words.clamp(max=self.max_len - 1)
        bounds = self.chunk_bounds(batch, n_words)
        streams = {"audio": self._stream("audio", temporal_pyramid_pool(frames["audio"], bounds), bounds.counts)}
        if self.uses_text:
            streams["text"] = self._stream("text", frames["text"][:, : self.max_len - 1], n_words)
        x = {m: s[0] for m, s in streams.items()}
        padding = {m: s[1] for m, s in streams.items()}
        for depth in range(len(self.self_layers["audio"])):
            x = {m: self.self_layers[m][depth](x[m], x[m], padding[m]) for m in x}
        for depth in range(len(self.co_layers["audio"])):
            x = {m: self.co_attend(m, depth, x, padding) for m in x}
        summary = torch.cat([x[m][:, 0] for m in x], dim=-1)
        return torch.cat([head(summary) for head in self.heads], dim=-1)


    def co_attend(self, modality: str, depth: int, x: dict[str, torch.Tensor],
                  padding: dict[str, torch.Tensor]) -> torch.Tensor:
        """One co-attention layer of ``modality`` (self-attention in the audio-only variants)."""
        layer = self.co_layers[modality][depth]
        if not self.uses_text:
            return layer(x[modality], x[modality], padding[modality])
        other = "text" if modality == "audio" else "audio"
        if self.query_from == "own":
            return layer(x[modality], x[other], padding[other])
        own = x[modality]
        query = x[other][:, : own.shape[1]]
        query = nn.functional.pad(query, (0, 0, 0, own.shape[1] - query.shape[1]))
        updated = layer(own, own, padding[modality], query=query)
        return torch.where(padding[modality][..., None], own, updated)


@dataclass(frozen=True)
class Variant:
    """One registered word-chunk model: alignment strategy × co-attention query source × modalities."""

    name: str
    class_name: str
    strategy: str  # "vw" | "fw" | "multiscale"
    query_from: str  # "other" (the paper) | "own" (MulT's direction)
    modalities: tuple[str, ...]
    doc: str


_AUDIO_TEXT, _AUDIO = ("audio", "text"), ("audio",)
_ALIGNMENT = {"vw": ("VW", "Strict alignment: one chunk per word spanning exactly its forced-aligned frames."),
              "fw": ("FW", "Partial alignment: one fixed 1 s chunk per word, evenly spread over the clip (eq. 1)."),
              "multiscale": ("MultiScaleW", "Random alignment: Align-FW chunks randomly cropped to 0.2–1.0 s, "
                                            "redrawn at every training step.")}
VARIANTS: tuple[Variant, ...] = tuple(
    variant
    for strategy, (short, doc) in _ALIGNMENT.items()
    for variant in (
        Variant(f"align-{short.lower()}", f"Align{short}", strategy, "other", _AUDIO_TEXT, doc),
        Variant(f"align-{short.lower()}-ser", f"Align{short}SER", strategy, "other", _AUDIO,
                f"Audio-only Align-{short} (Table 2): no text stream, co-attention layers become self-attention."),
        Variant(f"align-{short.lower()}-ownquery", f"Align{short}OwnQuery", strategy, "own", _AUDIO_TEXT,
                f"Align-{short} with MulT-direction co-attention (queries from the stream being updated), not the "
                "paper's."),
    ))
"""The nine registered word-chunk models: three alignments, each with the paper's co-attention, audio only, and
MulT-direction co-attention."""


def _variant_class(variant: Variant) -> type[WordChunkTransformer]:
    return type(variant.class_name, (WordChunkTransformer,), {
        "__doc__": variant.doc, "__module__": __name__, "__qualname__": variant.class_name, "name": variant.name,
        "modalities": variant.modalities, "configs": _configs(variant.strategy, variant.query_from)})


CLASSES: dict[str, type[WordChunkTransformer]] = {v.name: _variant_class(v) for v in VARIANTS}
# each class under its own name in this module, where the registry's ``module:Class`` entries (and pickle) find it
globals().update({cls.__name__: cls for cls in CLASSES.values()})
