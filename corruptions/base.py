"""What a corruption is: a named family of levels; given a clip, a level and a seed it returns keep-masks.

Masks are drawn from a generator seeded by a stable hash of (seed, corruption, level, clip id) — never Python's
salted ``hash()`` — so every model sees the same masks for the same clip and level, in any order, on any machine.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from avbench.data.store import ClipTiming
from avbench.errors import unknown

KeepMasks = dict[str, np.ndarray]  # modality -> bool array, True = frame (or word) received


@dataclass(frozen=True)
class Level:
    """One point of a sweep: a stable label, its parameters and its position on the plot's x axis."""

    label: str
    params: dict[str, Any]
    x: float
    title: str = ""  # what a reader calls the condition ("audio missing"), where the label alone is ambiguous


@dataclass(frozen=True)
class Corruption:
    """A corruption family: ``fn(timing, level_params, rng, modalities)`` returns one keep-mask per modality."""

    name: str
    description: str
    paper: str
    x_label: str
    levels: tuple[Level, ...]
    fn: Callable[[ClipTiming, dict[str, Any], np.random.Generator, tuple[str, ...]], KeepMasks] = field(repr=False)
    categorical: bool = False  # levels are categories (e.g. which modality is missing), not points of a sweep
    # whether a level changes anything for a model using these modalities (None: every level does)
    touches: Callable[[Level, tuple[str, ...]], bool] | None = field(default=None, repr=False)
    # what configures this instance beyond its name ("" for the registered one): a digest of a trace folder's
    # content or of user parameters, so that caches of masks never mix two configurations of one name
    variant: str = ""

    def applies(self, level: Level, modalities: tuple[str, ...] | None) -> bool:
        """Does ``level`` apply to a model with ``modalities`` (None = unknown model: assume it does)? A level that
        masks only a modality the model does not use leaves its inputs intact: it is the clean condition again."""
        return self.touches is None or modalities is None or self.touches(level, modalities)

    def level(self, label: str) -> Level:
        for level in self.levels:
            if level.label == label:
                return level

        raise unknown(f"level of {self.name}", label, [lv.label for lv in self.levels])

    def condition(self, label: str) -> str:
        """The reader's name of a level: its title where it has one (``audio`` → "audio missing"), else the label."""
        return next((lv.title or lv.label for lv in self.levels if lv.label == label), label)


def stable_rng(seed: int, corruption: str, level: str, clip_id: str) -> np.random.Generator:
    """A generator seeded from SHA-256 of the four keys: identical everywhere, independent of call order."""
    digest = hashlib.sha256(f"{seed}\x1f{corruption}\x1f{level}\x1f{clip_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))
