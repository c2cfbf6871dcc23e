"""The two kinds of work unit a run is split into, as plain picklable functions any executor can call.

* train unit: one model × seed → a checkpoint in the cache (reused when present and valid);
* eval unit: one model × seed × corruption → ``predictions/<model>/seed<k>/<corruption>.npz``
  (the format of :mod:`avbench.rundir.predictions`).

Each unit writes its output atomically, so a unit is either done (and skipped on resume) or not started. Units run
with a fixed number of torch threads (``AVBENCH_THREADS``, default 1), which keeps floating-point results
identical whichever executor and however many workers run them.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avbench.atomic import write_bytes
from avbench.rundir import predictions
from avbench.data.batching import Collator, prefetch
from avbench.execution.contract import check_folding, folded_outputs, honest_outputs
from avbench.data.store import FeatureStore
from avbench.tasks import get as get_task
from avbench.execution.training import TrainSpec, autocast, load_or_train
from avbench.corruptions import masks_for
from avbench.corruptions import get as get_corruption
from avbench.data.datasets import open_dataset


@dataclass(frozen=True)
class UnitContext:
    """What every unit needs besides its own spec: where the data and outputs are, and the shared settings."""

    dataset: str
    dataset_seed: int
    run_dir: str
    mask_seed: int = 0
    device: str = "cpu"
    split: str = "test"  # the split evaluated (dev only to choose a configuration)
    checkpoint_root: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def store(self) -> FeatureStore:

        return open_dataset(self.dataset, seed=self.dataset_seed)


def set_threads() -> None:
    torch.set_num_threads(int(os.environ.get("AVBENCH_THREADS", "1")))


def run_train_unit(ctx: UnitContext, spec: TrainSpec) -> dict[str, Any]:
    set_threads()
    root = Path(ctx.checkpoint_root) if ctx.checkpoint_root else None
    _, description, directory = load_or_train(spec, ctx.store(), ctx.device, root=root)
    recorded = json.loads((directory / "checkpoint.json").read_text())
    return {"checkpoint": str(directory), "best_dev": description.get("best_dev"),
            "weights_sha256": recorded["weights_sha256"]}


# -- evaluation ------------------------------------------------------------------------------------------------
_MASKS: dict[tuple[str, str, str, int, str], tuple[list[list[dict[str, np.ndarray]]], list[str]]] = {}
_MASKS_KEPT = 4  # corruptions whose masks a worker process keeps at once


def _split_masks(store: FeatureStore, corruption: Any, mask_seed: int,
                 split: str) -> tuple[list[list[dict[str, np.ndarray]]], list[str]]:
    """The keep-masks of a split at every level and one digest per level, made once per process and corruption.

    Masks depend only on the clip, the level and the seed, never on the model, so every model a process evaluates
    (and every protocol check) reuses them and their digests (hashing them was ~1 s of a default run's workers).
    """

    key = (str(store.path), store.fingerprint, corruption.name, mask_seed, split)
    if key not in _MASKS:
        while len(_MASKS) >= _MASKS_KEPT:
            _MASKS.pop(next(iter(_MASKS)))
        modalities = tuple(sorted(store.modalities))
        timings = [store.timing(int(i)) for i in store.split_indices(split)]
        levels = [[masks_for(corruption, level, t, mask_seed, modalities) for t in timings]
                  for level in corruption.levels]
        _MASKS[key] = (levels, [digest_masks(level) for level in levels])
    return _MASKS[key]


def test_split_masks(store: FeatureStore, corruption: Any, mask_seed: int,
                     split: str = "test") -> list[list[dict[str, np.ndarray]]]:
    """Keep-masks of every clip of the test (or another) split, all modalities, at every level:
    ``[level][clip][modality]``."""
    return _split_masks(store, corruption, mask_seed, split)[0]


def digest_masks(masks: list[dict[str, np.ndarray]]) -> str:
    """SHA-256 over clips' keep-masks, in clip order and sorted modality order."""
    h = hashlib.sha256()
    for clip in masks:
        for modality in sorted(clip):
            h.update(f"{modality}:{len(clip[modality])}:".encode())
            h.update(np.packbits(np.asarray(clip[modality], dtype=bool)).tobytes())
    return h.hexdigest()


def mask_digests(store: FeatureStore, corruption: Any, mask_seed: int, split: str = "test") -> list[str]:
    """One digest per level over the split's masks of every modality: the protocol's fingerprint."""
    return list(_split_masks(store, corruption, mask_seed, split)[1])


def stack_masks(level_masks: list[dict[str, np.ndarray]], modalities: list[str]) -> dict[str, np.ndarray]:
    """One level's keep-masks of every clip as a (clips, longest) array per modality, True past a clip's end (the
    batch's own padding mask rules there), so a batch's masks are one slice instead of a copy per clip."""
    out = {}
    for m in modalities:
        rows = [np.asarray(clip[m], dtype=bool) if m in clip else np.ones(0, dtype=bool) for clip in level_masks]
        stacked = np.ones((len(rows), max([1, *(len(r) for r in rows)])), dtype=bool)
        for i, row in enumerate(rows):
            stacked[i, : len(row)] = row
        out[m] = stacked
    return out


def _mask_tensors(stacked: dict[str, np.ndarray], rows: slice, lengths: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The keep-masks of the batch ``rows``, as wide as the batch (True beyond a mask's end, like padding)."""
    out = {}
    for m, lens in lengths.items():
        width = int(max(1, int(lens.max())))
        part = stacked[m][rows, :width]
        t = torch.ones((part.shape[0], width), dtype=torch.bool)
        t[:, : part.shape[1]] = torch.from_numpy(np.ascontiguousarray(part))
        out[m] = t
    return out


def length_order(store: FeatureStore, indices: np.ndarray) -> np.ndarray:
    """Positions of ``indices`` from the shortest clip to the longest (ties in split order): evaluation batches of
    neighbours in this order pad little. In split order a 64-clip batch of the synthetic test split is a third
    padding, computed and thrown away at every level; the order changes no clip's inputs or masks, only which
    clips share a batch (outputs move by float rounding, ~1e-7)."""
    return np.argsort(store.clips["duration"].to_numpy()[indices], kind="stable")


@torch.inference_mode()
def predict_under_corruption(model: Any, store: FeatureStore, corruption: Any, mask_seed: int,
                             device: str = "cpu", batch_size: int = 64, eval_path: str | None = None,
                             split: str = "test", precision: str = "fp32") -> predictions.Predictions:
    """Outputs of ``model`` on the test split (or ``split``) at every level of ``corruption``.

    Clips are batched shortest first (:func:`length_order`) and the outputs returned in split order. It runs in
    inference mode, not only without gradients: no version counters or view tracking on a sweep's many small
    tensors (~5 % of evaluation, identical outputs).
    ``folded``: the mask-independent frontend runs once per batch of clips; each level then only applies its masks
    and runs the rest of the model, which is what keeps an extra level close to one forward pass. ``honest``: the
    whole model runs on the zero-filled inputs of every level (for models whose frontend failed
    :func:`avbench.execution.contract.check_folding`). ``None`` runs that check first and takes the path it allows. Clean
    batches are collated in the background while the previous one is evaluated.
    """
    if eval_path is None:
        eval_path = check_folding(model, store, mask_seed, device).eval_path
    model.eval()
    task = get_task(model.task)
    collator = Collator(store, type(model).modalities)
    test = store.split_indices(split)
    order = length_order(store, test)
    all_masks, digests = _split_masks(store, corruption, mask_seed, split)
    level_stacks = [stack_masks([level_masks[i] for i in order], collator.modalities) for level_masks in all_masks]
    outputs: list[list[np.ndarray]] = [[] for _ in corruption.levels]
    chunks = [test[order[start : start + batch_size]] for start in range(0, len(test), batch_size)]
    cuda = torch.device(device).type == "cuda"
    with autocast(device, precision):
        for start, clean in zip(range(0, len(test), batch_size), prefetch(chunks, collator, device), strict=True):
            frames = model.frontend(clean.inputs) if eval_path == "folded" else None
            for li, level_masks in enumerate(level_stacks):
                masks = _mask_tensors(level_masks, slice(start, start + batch_size), clean.lengths)
                batch = clean.with_masks({m: t.to(device, non_blocking=cuda) for m, t in masks.items()},
                                         zero_fill=frames is None)  # the folded path reads no input
                out = folded_outputs(model, frames, batch) if frames is not None else honest_outputs(model, batch)
                out = task.activate(out)
                outputs[li].append(out.float().cpu().numpy())
    stacked = np.empty((len(outputs), len(test), *outputs[0][0].shape[1:]), dtype=np.float32)
    stacked[:, order] = np.stack([np.concatenate(o) for o in outputs])  # back to the split's clip order
    return predictions.make(
        store.clips["clip_id"].to_numpy()[test], [lv.label for lv in corruption.levels],
        [lv.x for lv in corruption.levels], task.to_label_scale(stacked, collator), task.targets(store, test),
        task.name, task.names(store), list(digests))


def run_eval_unit(ctx: UnitContext, spec: TrainSpec, corruption_name: str) -> dict[str, Any]:

    started = time.perf_counter()
    set_threads()
    corruption = get_corruption(corruption_name)
    path = predictions.path(ctx.run_dir, spec.label, spec.seed, corruption_name)
    if predictions.is_complete(path, len(corruption.levels)):
        return {"path": str(path), "skipped": True, "seconds": time.perf_counter() - started}
    store = ctx.store()
    root = Path(ctx.checkpoint_root) if ctx.checkpoint_root else None
    model, _, directory = load_or_train(spec, store, ctx.device, root=root)
    contract = check_folding(model, store, ctx.mask_seed, ctx.device)
    arrays = predict_under_corruption(model, store, corruption, ctx.mask_seed, ctx.device,
                                      eval_path=contract.eval_path, split=ctx.split, precision=spec.precision)
    arrays.update(contract.record(type(model).sees_masks))
    arrays[predictions.WEIGHTS_KEY] = np.array(json.loads((directory / "checkpoint.json").read_text())["weights_sha256"])
    predictions.save(path, arrays)
    return {"path": str(path), "skipped": False, "seconds": time.perf_counter() - started}


def copy_eval_unit(ctx: UnitContext, source: TrainSpec, target: TrainSpec, corruption_name: str) -> Path:
    """``target``'s predictions as ``source``'s, when both name one checkpoint (:func:`shared_checkpoints`): the file
    holds nothing about the label, so the copy is byte for byte what evaluating the same weights again would write."""
    from_path = predictions.path(ctx.run_dir, source.label, source.seed, corruption_name)
    to_path = predictions.path(ctx.run_dir, target.label, target.seed, corruption_name)
    write_bytes(to_path, from_path.read_bytes())
    return to_path
