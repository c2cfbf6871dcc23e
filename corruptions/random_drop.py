"""``random-<modality>``: drop a fixed share of frames uniformly at random (RAVER Fig. 3, the authors'
``random_drop_frames``).

One variant per target, each with its own name so results files keep them apart: ``random-audio``,
``random-video``, ``random-text`` (words) hit one modality and leave the others intact, as in RAVER's
one-modality-at-a-time curves; ``random-all`` drops the same share from every modality at once, with an
independent choice of frames per modality.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks
from avbench.corruptions.clocks import frame_count
from avbench.corruptions.processes import check_probability, independent_streams, random_mask
from avbench.corruptions.sweeps import RAVER, RAVER_PERCENTS, percent_levels
from avbench.data.store import MODALITIES, ClipTiming

def random_drop(target: str) -> Corruption:
    """The random-drop variant that hits ``target`` (a modality, or ``"all"`` for every modality at once)."""
    hit = MODALITIES if target == "all" else (target,)

    def drop(timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
             modalities: tuple[str, ...]) -> KeepMasks:
        ratio = check_probability("drop ratio", params["ratio"])
        streams = independent_streams(rng, modalities)
        return {m: random_mask(frame_count(timing, m), ratio, streams[m]) if m in hit
                else np.ones(frame_count(timing, m), dtype=bool) for m in modalities}

    if target == "all":
        unit, scope = "frames (words for text) of every modality", "each modality draws its own"
    else:
        unit, scope = f"{target} {'words' if target == 'text' else 'frames'}", "other modalities intact"
    return Corruption(
        name=f"random-{target}",
        description=f"Drop exactly ⌊x·n⌋ {unit}, chosen uniformly without replacement; {scope}.",
        paper=f"{RAVER}, Fig. 3",
        x_label="frames dropped (%)" if target != "text" else "words dropped (%)",
        levels=percent_levels(RAVER_PERCENTS),
        fn=drop,
    )


RANDOM_AUDIO = random_drop("audio")
RANDOM_VIDEO = random_drop("video")
RANDOM_TEXT = random_drop("text")
RANDOM_ALL = random_drop("all")
