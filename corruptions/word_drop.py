"""``word_drop``: drop whole words together with the speech and video frames aligned to them (audio-text paper
Fig. 4, the authors' ``random_drop_words``).

round(x·W) of the W words are chosen uniformly without replacement (Python's ``round``, as the authors' code,
so halves go to the even count). Every other modality loses the frames of each dropped word's span: frames from
the one nearest the word start to the one nearest the word end, inclusive, on that modality's own clock (20 ms
audio frames as in the authors' code; video frames by the same rule at the video frame rate). A clip without
words loses nothing. Where the authors zeroed one best-matching BPE token per word, the text mask here drops the
word itself, since avbench stores one vector per aligned word.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks
from avbench.corruptions.clocks import frame_times, span_mask
from avbench.corruptions.processes import check_probability
from avbench.corruptions.sweeps import AUDIO_TEXT, AUDIO_TEXT_PERCENTS, percent_levels
from avbench.data.store import ClipTiming


def _drop_words(timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
                modalities: tuple[str, ...]) -> KeepMasks:
    ratio = check_probability("word drop ratio", params["ratio"])
    n_words = timing.n_words
    dropped = rng.permutation(n_words)[: int(round(ratio * n_words))]
    kept_words = np.ones(n_words, dtype=bool)
    kept_words[dropped] = False
    starts, ends = timing.word_times[dropped, 0], timing.word_times[dropped, 1]
    return {m: kept_words if m == "text" else ~span_mask(frame_times(timing, m), starts, ends) for m in modalities}


WORD_DROP = Corruption(
    name="word_drop",
    description="Drop round(x·W) words uniformly without replacement, and in every other modality the frames "
                "aligned to them (nearest frame to word start … nearest to word end, inclusive).",
    paper=f"{AUDIO_TEXT}, Fig. 4",
    x_label="words dropped (%)",
    levels=percent_levels(AUDIO_TEXT_PERCENTS),
    fn=_drop_words,
)
