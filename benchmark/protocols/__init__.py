"""The training-protocol registry: how a model is trained with respect to loss, beside what the model is.

Both source papers credit robustness partly to training (RAVER's modality dropout, AuxFormer's, Align-MultiScaleW's
random alignments), so avbench can train every model under every registered protocol and evaluate each checkpoint
under the same corruptions (``avbench run --protocols recipe,clean,…``):

* ``recipe`` — each model's own recipe (the default; labels, checkpoints and numbers as without protocols);
* ``clean`` — no loss-related augmentation;
* ``modality-dropout`` — RAVER's 20/20/60 scheme for every model with two modalities;
* ``frame-loss`` / ``markov-loss`` — training batches masked by ``random-all`` / ``markov`` at a level drawn per
  batch.

A result trained under a protocol other than the recipe is labelled ``model@protocol``
(:func:`avbench.models.format_label`). Third-party protocols register through the ``avbench.protocols``
entry-point group (value ``"package.module:PROTOCOL"``, a :class:`Protocol`).
"""
from __future__ import annotations

from typing import Any

from avbench import validate
from avbench.corruptions import get as get_corruption
from avbench.errors import UserError
from avbench.models.registry import RECIPE
from avbench.protocols.base import Protocol, Training, recipe_training
from avbench.registry import Registry

__all__ = ["Protocol", "Training", "REGISTRY", "RECIPE", "names", "get", "parse_selection", "check", "describe",
           "recipe_training"]

REGISTRY: Registry[Protocol] = Registry(
    "training protocol", entry_point_group="avbench.protocols",
    entries={
        "recipe": "avbench.protocols.builtin:RECIPE",
        "clean": "avbench.protocols.builtin:CLEAN",
        "modality-dropout": "avbench.protocols.builtin:MODALITY_DROPOUT",
        "frame-loss": "avbench.protocols.builtin:FRAME_LOSS",
        "markov-loss": "avbench.protocols.builtin:MARKOV_LOSS",
    },
    base=Protocol,
)
names = REGISTRY.names
ORDER = ("recipe", "clean", "modality-dropout", "frame-loss", "markov-loss")  # ``all``: the built-ins first


def get(name: str) -> Protocol:
    """The registered protocol ``name``, checked: its registered name is its own, and its corruption exists."""
    protocol = REGISTRY.get(name)
    if protocol.name != name:
        raise UserError(f"training protocol {name!r} is registered as an object named {protocol.name!r}")
    if protocol.corruption is not None:
        get_corruption(protocol.corruption)
    return protocol


def parse_selection(spec: str) -> list[str]:
    """``--protocols recipe,clean`` → those names (each registered, none twice); ``all`` → every registered one,
    the built-ins first in the order of the issue's table."""
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        raise UserError("--protocols names no training protocol; choose from: all, " + ", ".join(names()))
    if tokens == ["all"]:
        return [n for n in ORDER if n in REGISTRY] + [n for n in names() if n not in ORDER]
    check(tokens)
    return tokens


def check(selected: list[str]) -> None:
    """Every name registered (with "did you mean"), none twice."""
    validate.unique(selected, "--protocols")
    for name in selected:
        get(name)


def describe() -> list[dict[str, Any]]:
    """Rows of ``avbench list protocols``: what each protocol trains with."""
    rows = []
    for name in [n for n in ORDER if n in REGISTRY] + [n for n in names() if n not in ORDER]:
        protocol = get(name)
        dropout = "recipe's" if protocol.modality_dropout is None else \
            "/".join(f"{p:g}" for p in protocol.modality_dropout)
        rows.append({"name": name, "modality_dropout": dropout, "own_regulariser": protocol.own_regulariser,
                     "batch_corruption": protocol.corruption or "", "description": protocol.description,
                     "source": protocol.source})
    return rows
