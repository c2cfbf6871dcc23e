"""What a training protocol is, and what it resolves to for one model.

A :class:`Protocol` says how a model is trained with respect to loss — whether whole modalities are dropped, whether
training batches are corrupted, whether an architecture keeps its own loss-related regulariser — and nothing about
the model itself. For one model (class, config, overrides) it resolves to a :class:`Training`: the exact
augmentation its training loop applies. The resolved training, not the protocol's name, is what keys a checkpoint,
so two protocols that train a model identically (``modality-dropout`` and RAVER's own recipe, or ``clean`` and a
model without any loss augmentation) share one checkpoint and give identical predictions by construction.

A protocol changes training only: model selection on the development split, evaluation masks and everything after
them are the same for every protocol.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from avbench.errors import UserError
from avbench.models.base import EmotionModel, Recipe


@dataclass(frozen=True)
class Training:
    """One model's training augmentation under a protocol, as the training loop applies it.

    ``dropout``: per batch, one uniform draw zeroes the first listed modality with its probability, else the second
    with its, and so on (RAVER's scheme for ((audio, 0.2), (video, 0.2))); ``regulariser_off``: the architecture's
    own loss-related regulariser that is switched off, in words (:meth:`EmotionModel.training_regulariser`:
    Align-MultiScaleW's random chunk alignments, SFAV's softhard batches), '' when none is;
    ``corruption``: every training batch is masked by this registered corruption at a level drawn per batch.
    """

    dropout: tuple[tuple[str, float], ...] = ()
    regulariser_off: str = ""
    corruption: str | None = None

    def key(self) -> dict[str, Any]:
        """The fields that change training, for the checkpoint hash (``fixed_alignment``: the name the switched-off
        regulariser had when Align-MultiScaleW's was the only one, so cached checkpoints keep their keys)."""
        return {"dropout": [[m, p] for m, p in self.dropout], "fixed_alignment": bool(self.regulariser_off),
                "corruption": self.corruption}

    @property
    def slug(self) -> str:
        """A file-name-safe summary for checkpoint directory names, e.g. ``md-a0.2-v0.2`` or ``nomd-noreg``."""
        parts = ["md-" + "-".join(f"{m[0]}{p:g}" for m, p in self.dropout) if self.dropout else "nomd"]
        if self.regulariser_off:
            parts.append("noreg")
        if self.corruption:
            parts.append(f"loss-{self.corruption}")
        return "-".join(parts)

    def describe(self) -> str:
        """What the training loop does, in words (run reports and ``avbench train``)."""
        parts = []
        if self.dropout:
            drops = ", ".join(f"{m} {p:.0%}" for m, p in self.dropout)
            kept = 1.0 - sum(p for _, p in self.dropout)
            parts.append(f"modality dropout per batch ({drops}, both kept {kept:.0%})")
        if self.regulariser_off:
            parts.append(f"without its {self.regulariser_off}")
        if self.corruption:
            parts.append(f"training batches under {self.corruption} (a level drawn per batch)")
        return "; ".join(parts) or "no loss-related augmentation"


def recipe_dropout(recipe: Recipe) -> tuple[tuple[str, float], ...]:
    """A recipe's modality dropout as :attr:`Training.dropout`: (P(zero audio), P(zero video)), zero terms left out
    (a zero-probability term never fires, so leaving it out draws and drops exactly as before)."""
    p_audio, p_video = recipe.modality_dropout
    return tuple((m, float(p)) for m, p in (("audio", p_audio), ("video", p_video)) if p > 0)


@dataclass(frozen=True)
class Protocol:
    """A training protocol: how every model is trained with respect to loss.

    ``modality_dropout``: (P(zero the model's first modality), P(zero its second)) per batch, or None for the
    recipe's own; a model with one modality has nothing to drop it in favour of, so it trains without. ``own_regulariser``:
    False switches off an architecture's own loss-related regulariser (:meth:`EmotionModel.training_regulariser`).
    ``corruption``: a registered corruption that masks every training batch, at one of its levels drawn per batch
    from a generator of its own seeded by the training seed (its own mask function, so training masks are those of
    the evaluation family).
    """

    name: str
    description: str
    modality_dropout: tuple[float, float] | None = None
    own_regulariser: bool = True
    corruption: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        """A plugin's mistake is one line naming the protocol, when it is first looked up."""
        dropout = self.modality_dropout
        if dropout is not None and (len(dropout) != 2 or any(not 0.0 <= p <= 1.0 for p in dropout)
                                    or sum(dropout) > 1.0):
            raise UserError(f"training protocol {self.name!r}: modality_dropout must be two probabilities summing to "
                            f"at most 1, got {dropout!r}")

    def training(self, cls: type[EmotionModel], config: str, overrides: Mapping[str, Any] | None = None) -> Training:
        """What this protocol does when training ``cls`` at ``config`` with ``overrides``."""
        recipe = cls.recipes[config]
        if self.modality_dropout is None:
            dropout = recipe_dropout(recipe)
        elif len(cls.modalities) >= 2:
            dropout = tuple((m, float(p)) for m, p in zip(cls.modalities, self.modality_dropout) if p > 0)
        else:
            dropout = ()
        settings = cls.config_for(config, **dict(overrides or {}))
        off = "" if self.own_regulariser else cls.training_regulariser(settings)
        return Training(dropout, off, self.corruption)


def recipe_training(cls: type[EmotionModel], config: str) -> Training:
    """The training of a model's own recipe: the plan whose checkpoints keep their pre-protocol keys."""
    return Training(recipe_dropout(cls.recipes[config]))
