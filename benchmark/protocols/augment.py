"""The training loop's one hook: a batch as a protocol's :class:`~avbench.protocols.base.Training` lets the model
see it (modalities dropped, frames lost), before :func:`avbench.models.base.visible`.

Both augmentations only AND the batch's keep-masks and zero the lost frames (:meth:`Batch.with_masks`), exactly what
evaluation does with a corruption's masks. Modality dropout draws from the training loop's own generator, as the
recipes always did, so a recipe's batches are drawn as before; batch loss draws from a generator of its own,
seeded from the training seed and the corruption, so the clips, their order and the dropout draws of a protocol
with batch loss are those of ``clean``, and only the masks differ.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from avbench.corruptions import get as get_corruption
from avbench.corruptions import masks_for
from avbench.data.batching import Batch
from avbench.data.store import ClipTiming, FeatureStore
from avbench.protocols.base import Training


def drop_one_modality(batch: Batch, choices: Sequence[tuple[str, float]], rng: np.random.Generator) -> Batch:
    """Per batch, one uniform draw: zero all of the first modality with its probability, else the second with its,
    and so on (RAVER/AuxFormer's modality dropout). Nothing is drawn when no probability is positive."""
    if not any(p > 0 for _, p in choices):
        return batch
    r, edge, drop = rng.random(), 0.0, None
    for modality, p in choices:
        edge += p
        if r < edge:
            drop = modality
            break
    if drop is None or drop not in batch.masks:
        return batch
    return batch.with_masks({drop: torch.zeros_like(batch.masks[drop])})


class BatchLoss:
    """Masks training batches with a registered corruption: per batch, a level drawn uniformly from the
    corruption's own sweep and a mask seed, both from this object's generator; each clip's masks then come from
    the corruption's own mask function (:func:`avbench.corruptions.masks_for`), as at evaluation."""

    def __init__(self, corruption: str, timings: Mapping[int, ClipTiming], seed: int) -> None:
        self.corruption = get_corruption(corruption)
        self.timings = dict(timings)  # store row → the clip's timing
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(corruption.encode()),)))
        self.draws: list[tuple[str, int]] = []  # (level label, mask seed) drawn for each batch, in order

    def __call__(self, batch: Batch, rows: Sequence[int]) -> Batch:
        """``batch`` (the store rows ``rows``, which the harness keeps: a model is never told its clips) masked."""
        level = self.corruption.levels[int(self.rng.integers(len(self.corruption.levels)))]
        mask_seed = int(self.rng.integers(0, 2**63))
        self.draws.append((level.label, mask_seed))
        modalities = tuple(batch.masks)
        keep = {m: torch.ones(batch.masks[m].shape, dtype=torch.bool) for m in modalities}
        for row, index in enumerate(rows):
            for m, mask in masks_for(self.corruption, level, self.timings[int(index)], mask_seed, modalities).items():
                width = min(len(mask), keep[m].shape[1])
                keep[m][row, :width] = torch.from_numpy(mask[:width])
        return batch.with_masks({m: k.to(batch.masks[m].device) for m, k in keep.items()})


class Augmentation:
    """What the training loop calls on every batch: ``augment(batch, rows, rng)``."""

    def __init__(self, training: Training, store: FeatureStore, seed: int) -> None:
        self.training = training
        self.loss = None
        if training.corruption is not None:
            train = store.split_indices("train")
            self.loss = BatchLoss(training.corruption, {int(i): store.timing(int(i)) for i in train}, seed)

    def __call__(self, batch: Batch, rows: Sequence[int], rng: np.random.Generator) -> Batch:
        batch = drop_one_modality(batch, self.training.dropout, rng)
        return self.loss(batch, rows) if self.loss is not None else batch
