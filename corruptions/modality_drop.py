"""``modality``: one whole modality missing, the extreme case that modality dropout trains for.

RAVER Table 3 compares models under 100 % missing audio or video; AuxFormer and SFAV evaluate the same way.
The levels are categorical (x = 0, 1, 2, 3 for none, audio, video, text); a level naming a modality the model
does not use leaves its inputs intact, so it does not *apply* to that model (:meth:`Corruption.applies`) and the
summaries leave it out (see :mod:`avbench.scoring.summary`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks, Level
from avbench.corruptions.clocks import frame_count
from avbench.corruptions.sweeps import RAVER
from avbench.errors import unknown
from avbench.data.store import MODALITIES, ClipTiming

CHOICES = ("none", *MODALITIES)


def _drop_modality(timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
                   modalities: tuple[str, ...]) -> KeepMasks:
    missing = params["missing"]
    if missing not in CHOICES:
        raise unknown("missing modality", str(missing), CHOICES)
    return {m: np.full(frame_count(timing, m), m != missing, dtype=bool) for m in modalities}


def _touches(level: Level, modalities: tuple[str, ...]) -> bool:
    """The clean level, and the loss of a modality the model uses; losing an unused one changes nothing."""
    return level.params["missing"] == "none" or level.params["missing"] in modalities


MODALITY = Corruption(
    name="modality",
    description="A whole modality is missing: all of its frames (or words) are dropped, the others are intact.",
    paper=f"{RAVER}, Table 3",
    x_label="missing modality (0 none, 1 audio, 2 video, 3 text)",
    levels=tuple(Level(label=name, params={"missing": name}, x=float(i),
                       title="nothing missing" if name == "none" else f"{name} missing")
                 for i, name in enumerate(CHOICES)),
    fn=_drop_modality,
    categorical=True,
    touches=_touches,
)
