"""The five registered training protocols.

Every protocol but ``recipe`` is ``clean`` plus at most one loss-related augmentation, so that its difference from
``clean`` (the protocol effect) measures that augmentation alone.
"""
from __future__ import annotations

from avbench.models.registry import RECIPE as RECIPE_NAME
from avbench.protocols.base import Protocol

RAVER = "Goncalves et al., RAVER, IEEE OJSP 2025, §IV-D2"
MOHAMED = "Mohamed & Schuller, 2020 (matched / multi-condition training under packet loss)"

RECIPE = Protocol(
    RECIPE_NAME, "each model's own recipe: its modality dropout (RAVER, AuxFormer) and its own regulariser "
                 "(Align-MultiScaleW's random chunk crops); the default",
    source="each model's source paper")
CLEAN = Protocol(
    "clean", "no loss-related augmentation: modality dropout off, fixed chunks where the architecture's alignment "
             "allows it (Align-MultiScaleW trains on Align-FW chunks)",
    modality_dropout=(0.0, 0.0), own_regulariser=False)
MODALITY_DROPOUT = Protocol(
    "modality-dropout", "RAVER's scheme for every model with two modalities: per batch the first is zeroed 20 % of "
                        "the time, the second 20 %, both kept 60 %; otherwise as clean",
    modality_dropout=(0.2, 0.2), own_regulariser=False, source=RAVER)
FRAME_LOSS = Protocol(
    "frame-loss", "training batches masked by random-all (every modality loses the same share of frames, chosen "
                  "at random) at one of its levels drawn per batch; otherwise as clean",
    modality_dropout=(0.0, 0.0), own_regulariser=False, corruption="random-all", source=MOHAMED)
MARKOV_LOSS = Protocol(
    "markov-loss", "training batches masked by the two-state Markov packet-loss family (markov) at one of its "
                   "levels drawn per batch; otherwise as clean",
    modality_dropout=(0.0, 0.0), own_regulariser=False, corruption="markov", source=MOHAMED)
