"""MDRE-GRU and MDREA-GRU (Yoon, Byun & Jung, SLT 2018): the dual recurrent-encoder baselines of ICMI'23 Table 1.

As in ICMI'23 the GRUs read the same SSL/word-vector features as the word-chunk transformer instead of MFCCs and
GloVe (with the same learnable layer weighted sum of the audio layers), and they regress the three
attributes with the CCC loss (or give emotion logits). Yoon's 35 prosodic features have no counterpart in the
feature store and are left out, so the audio vector is the GRU's final state alone.

Mask access follows Yoon's code and the audio-text setup: ``mdre-gru`` and ``mdrea-gru`` are mask-blind
(``sees_masks = False``), so each GRU steps through every frame (word) of a clip and reads a lost one as the zero
frame it was filled with, as the word-chunk models do. ``mdre-gru-masked`` is the variant that is told the masks:
its GRUs read only the *received* frames, in order, so a loss is a gap they step over; a modality with nothing
received encodes to the zero vector. In both, MDREA's attention over zero valid words attends to nothing (a zero
context) instead of dividing by zero. The tiny config averages the audio frames the GRU reads 5 at a time, so it
runs at 10 Hz.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from avbench.data.batching import Batch
from avbench.errors import UserError
from avbench.models.base import EmotionModel, FeatureDims, Frames, Recipe, require_modalities
from avbench.models.layers import FrameFrontend
from avbench.models.word_chunk import PAPER_RECIPE, TINY_RECIPE

PAPER = "Yoon, Byun & Jung, SLT 2018 (doi:10.1109/SLT.2018.8639583), as the baseline of ICMI 2023"

# Yoon's keep probabilities 0.7 (audio) and 0.3 (text) on GRU inputs and outputs, written as drop probabilities
_PAPER_CONFIG: dict[str, Any] = {"hidden": 200, "audio_dropout": 0.3, "text_dropout": 0.7, "audio_pool": 1}
# tiny: 32 hidden units instead of 200, and the received audio frames averaged 5 at a time (10 Hz) so that the
# GRU runs 5 times fewer steps and trains in seconds on a CPU; same dropout
_TINY_CONFIG: dict[str, Any] = {**_PAPER_CONFIG, "hidden": 32, "audio_pool": 5}
_RECIPE_SOURCE = ("ICMI'23 trains its baselines on the same features and protocol as the word-chunk models "
                  "[GUESS: Adam 1e-4, batch 128, 1-CCC]; Yoon's own recipe was Adam 1e-3 with sigmoid CE")


def received_first(x: torch.Tensor, keep: torch.Tensor, pool: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each clip's received steps to the front, in order, zero the rest, and average every ``pool``
    consecutive received steps into one; returns (x, counts) with counts the number of resulting steps."""
    order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices
    kept = keep.gather(1, order).to(x.dtype)
    moved = x.gather(1, order[..., None].expand_as(x)) * kept[..., None]
    counts = keep.sum(dim=1)
    if pool == 1:
        return moved, counts
    pad = -moved.shape[1] % pool
    moved = nn.functional.pad(moved, (0, 0, 0, pad)).unflatten(1, (-1, pool)).sum(2)
    kept = nn.functional.pad(kept, (0, pad)).unflatten(1, (-1, pool)).sum(2)
    return moved / kept.clamp(min=1)[..., None], (counts + pool - 1) // pool


class ReceivedGRU(nn.Module):
    """One-layer GRU over the steps ``keep`` marks (every step for a mask-blind model, the received ones for a
    mask-aware one; input and output dropout as in Yoon's wrapper), optionally averaged ``pool`` steps at a time."""

    def __init__(self, in_dim: int, hidden: int, dropout: float, pool: int = 1) -> None:
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden, batch_first=True)
        nn.init.orthogonal_(self.gru.weight_hh_l0)  # Yoon's cells use an orthogonal initialiser
        self.dropout = nn.Dropout(dropout)
        self.pool = pool

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the states (B, T', H) of the received steps, their mask (B, T') and the final state (B, H).

        With the received steps moved to the front, the state after step ``count - 1`` is exactly what a packed
        sequence would give (the GRU only looks back), and running the padded batch is about twice as fast on CPU.
        """
        moved, counts = received_first(self.dropout(x), keep, self.pool)
        steps = max(1, int(counts.max()))
        states, _ = self.gru(moved[:, :steps])
        valid = torch.arange(steps, device=states.device)[None, :] < counts[:, None]
        last = (counts - 1).clamp(min=0)[:, None, None].expand(-1, 1, states.shape[-1])
        final = states.gather(1, last)[:, 0] * (counts > 0)[:, None].to(states.dtype)
        return self.dropout(states) * valid[..., None], valid, self.dropout(final)


class MDREGRU(EmotionModel):
    """Multimodal dual recurrent encoder: audio and text GRU final states, each halved by a linear map, concatenated,
    then one linear output layer."""

    name: ClassVar[str] = "mdre-gru"
    modalities: ClassVar[tuple[str, ...]] = ("audio", "text")
    tasks: ClassVar[tuple[str, ...]] = ("attributes", "emotion")
    paper: ClassVar[str] = PAPER
    configs: ClassVar[dict[str, dict[str, Any]]] = {"tiny": _TINY_CONFIG, "paper": _PAPER_CONFIG}
    recipes: ClassVar[dict[str, Recipe]] = {
        "tiny": TINY_RECIPE.updated(source=TINY_RECIPE.source + "; " + _RECIPE_SOURCE),
        "paper": PAPER_RECIPE.updated(source=_RECIPE_SOURCE),
    }

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "attributes", *, hidden: int,
                 audio_dropout: float, text_dropout: float, audio_pool: int) -> None:
        super().__init__(dims, n_outputs, task)
        if hidden < 2 or audio_pool < 1:
            raise UserError(f"hidden must be at least 2 and audio_pool at least 1, got {hidden} and {audio_pool}")
        require_modalities(self.name, self.modalities, dims.shapes)
        self.front = FrameFrontend(dims, {"audio": None, "text": None}, bias=False)
        self.audio_encoder = ReceivedGRU(dims.dim("audio"), hidden, audio_dropout, audio_pool)
        self.text_encoder = ReceivedGRU(dims.dim("text"), hidden, text_dropout)
        self.build_fusion(hidden, n_outputs)

    def build_fusion(self, hidden: int, n_outputs: int) -> None:
        self.audio_projection = nn.Linear(hidden, hidden // 2)
        self.text_projection = nn.Linear(hidden, hidden // 2)
        self.output = nn.Linear(2 * (hidden // 2), n_outputs)

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        return self.front(inputs)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        _, _, audio = self.audio_encoder(frames["audio"], batch.masks["audio"])
        text_states, text_valid, text = self.text_encoder(frames["text"], batch.masks["text"])
        return self.combine(audio, text_states, text_valid, text)

    def combine(self, audio: torch.Tensor, text_states: torch.Tensor, text_valid: torch.Tensor,
                text: torch.Tensor) -> torch.Tensor:
        return self.output(torch.cat([self.audio_projection(audio), self.text_projection(text)], dim=-1))


class MDREGRUMasked(MDREGRU):
    """MDRE-GRU told which frames and words were lost: its GRUs skip them (not in Yoon's code; separates the effect
    of mask access from the architecture's)."""

    name: ClassVar[str] = "mdre-gru-masked"
    sees_masks: ClassVar[bool] = True
    paper: ClassVar[str] = "avbench variant of mdre-gru with mask access"


class MDREAGRU(MDREGRU):
    """MDRE with attention: the audio encoding, mapped linearly to the text state size, queries a Luong dot-product
    attention over the text GRU states; [query, attended text] feeds the output layer."""

    name: ClassVar[str] = "mdrea-gru"

    def build_fusion(self, hidden: int, n_outputs: int) -> None:
        self.query = nn.Linear(hidden, hidden)
        self.output = nn.Linear(2 * hidden, n_outputs)

    def combine(self, audio: torch.Tensor, text_states: torch.Tensor, text_valid: torch.Tensor,
                text: torch.Tensor) -> torch.Tensor:
        query = self.query(audio)
        scores = torch.einsum("bth,bh->bt", text_states, query)
        scores = scores.masked_fill(~text_valid, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1) * text_valid.to(scores.dtype)  # all zero when no word was received
        context = torch.einsum("bt,bth->bh", weights, text_states)
        return self.output(torch.cat([query, context], dim=-1))
