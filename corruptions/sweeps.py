"""Level sweeps shared by several corruption families, and the papers they come from."""
from __future__ import annotations

from collections.abc import Iterable

from avbench.corruptions.base import Level

RAVER = "Goncalves et al., Contextual Attention for Robust Audio-Visual Emotion Recognition (RAVER), IEEE OJSP 2025"
AUDIO_TEXT = ("Lin, Goncalves & Busso, Enhancing Resilience to Missing Data in Audio-Text Emotion Recognition with "
              "Multi-Scale Chunk Regularization, ICMI 2023")

# RAVER Fig. 3: 0-90 % in steps of 10, then 91-100 % in steps of 1 for the extreme end
RAVER_PERCENTS = (*range(0, 100, 10), *range(91, 101))
# audio-text paper Fig. 4: 0-90 % in steps of 10
AUDIO_TEXT_PERCENTS = tuple(range(0, 100, 10))


def percent_level(percent: int) -> Level:
    """A drop-ratio level: label ``"30pct"`` (file-name safe), params ``{"ratio": 0.3}``, x = 30."""
    return Level(label=f"{percent}pct", params={"ratio": percent / 100}, x=float(percent))


def percent_levels(percents: Iterable[int]) -> tuple[Level, ...]:
    return tuple(percent_level(p) for p in percents)
