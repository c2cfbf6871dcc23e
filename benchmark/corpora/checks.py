"""Sanity checks on extracted features: frames a model should never be trained on without anyone noticing.

A frozen encoder can produce numbers that are technically features and practically nothing: a MobileNetV2 with
untrained batch-norm statistics pools to ~1e-9, which float16 stores as exact zeros, so every face would be
"present" with an all-zero vector. Counting such frames per modality costs one pass over the features at
extraction; the counts live in the store's ``meta.json`` so ``datasets info`` and ``run`` report them for free.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from avbench.data.store import FeatureStore

FP16_TINY = float(np.finfo(np.float16).tiny)  # below this, float16 keeps (almost) no precision


@dataclass
class FrameCounts:
    """Frames of one modality, and how many of the received ones are degenerate."""

    frames: int = 0
    received: int = 0  # frames marked present (all of them for modalities without a present mask)
    all_zero: int = 0
    constant: int = 0  # every value equal, but not zero
    nonfinite: int = 0  # any NaN or inf
    fp16_underflow: int = 0  # non-zero before the float16 cast, below float16's normal range (lost) after it

    def add(self, frames: np.ndarray, present: np.ndarray | None = None) -> None:
        flat = np.asarray(frames, np.float32).reshape(len(frames), -1)
        received = np.ones(len(flat), bool) if present is None else np.asarray(present, bool)
        finite = np.isfinite(flat).all(axis=1)
        zero = ~flat.any(axis=1)
        flat_max, flat_min = (flat.max(axis=1), flat.min(axis=1)) if flat.shape[1] else (zero, zero)
        self.frames += len(flat)
        self.received += int(received.sum())
        self.nonfinite += int((received & ~finite).sum())
        self.all_zero += int((received & zero).sum())
        self.constant += int((received & finite & ~zero & (flat_max == flat_min)).sum())

    def problems(self, modality: str) -> list[str]:
        found = [(self.nonfinite, "contain NaN or inf"), (self.all_zero, "are all zeros"),
                 (self.constant, "are constant"),
                 (self.fp16_underflow, "had values below float16's range (pass --dtype float32)")]
        return [f"{modality}: {count} of {self.received} received frames {what}" for count, what in found if count]


def underflowing_frames(frames: np.ndarray) -> int:
    """Frames with non-zero values that all lie below float16's smallest normal number (checked before the cast)."""
    flat = np.abs(np.asarray(frames, np.float32).reshape(len(frames), -1))
    if not flat.size:
        return 0
    peak = flat.max(axis=1)
    return int(((peak > 0) & (peak < FP16_TINY)).sum())


def store_checks(store: FeatureStore) -> dict[str, dict[str, int]]:
    """The counts recorded at extraction, else computed now in one streamed pass (older or synthetic stores)."""
    recorded = store.meta.get("feature_checks")
    if recorded:
        return recorded
    counts = {}
    for modality in store.modalities:
        tally = FrameCounts()
        for index in range(len(store)):
            tally.add(store.frames(modality, index), store.present(modality, index))
        counts[modality] = asdict(tally)
    return counts


def problems(checks: dict[str, dict[str, int]]) -> list[str]:
    """One line per degenerate kind of frame found, e.g. ``video: 96 of 96 received frames are all zeros``."""
    return [line for modality, counts in checks.items() for line in FrameCounts(**counts).problems(modality)]


def recorded_problems(store: FeatureStore) -> list[str]:
    """What extraction found wrong with the store's features (nothing for stores it did not check)."""
    return problems(store.meta.get("feature_checks") or {})
