"""The two kinds of work unit a run is split into, as plain picklable functions any executor can call.

* train unit: one model × training protocol × seed → a checkpoint in the cache (reused when present and valid);
* eval unit: one model × training protocol × seed × corruption → ``predictions/<model>/seed<k>/<corruption>.npz``
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avbench.atomic import write_bytes
from avbench.rundir import predictions
from avbench.data.batching import Collator, prefetch
from avbench.execution.contract import Contract, level_outputs, spot_check, spot_point
from avbench.execution.isolation import FreshCopies, WeightsGuard
from avbench.models.base import frontend_frames, kept_frames_refused
from avbench.data.store import FeatureStore
from avbench.tasks import get as get_task
from avbench.execution.training import TrainSpec, autocast, cached_weights, load_or_train
from avbench.corruptions import masks_for
from avbench.execution import THREADS_ENV
from avbench.corruptions.configured import resolve
from avbench.data.datasets import open_dataset
from avbench.errors import UserError


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
    store_path: str | None = None  # the copy the run verified (and guards): units read exactly it

    def store(self) -> FeatureStore:
        """The run's store: the verified copy itself when the run names it (a unit never verifies, repairs or
        regenerates a store: the run does, once, and checks it unchanged before it scores)."""
        if self.store_path is not None:
            return FeatureStore(self.store_path)
        return open_dataset(self.dataset, seed=self.dataset_seed)


def set_threads() -> None:
    torch.set_num_threads(int(os.environ.get(THREADS_ENV) or 1))


def run_train_unit(ctx: UnitContext, spec: TrainSpec) -> dict[str, Any]:
    set_threads()
    root = Path(ctx.checkpoint_root) if ctx.checkpoint_root else None
    _, description, directory = load_or_train(spec, ctx.store(), ctx.device, root=root)
    recorded = json.loads((directory / "checkpoint.json").read_text())
    return {"checkpoint": str(directory), "best_dev": description.get("best_dev"),
            "weights_sha256": recorded["weights_sha256"]}


# -- evaluation ------------------------------------------------------------------------------------------------
_MASKS: dict[tuple[Any, ...], tuple[list[list[dict[str, np.ndarray]]], list[str]]] = {}
_MASKS_KEPT = 4  # corruptions whose masks a worker process keeps at once


def _split_masks(store: FeatureStore, corruption: Any, mask_seed: int,
                 split: str) -> tuple[list[list[dict[str, np.ndarray]]], list[str]]:
    """The keep-masks of a split at every level and one digest per level, made once per process and corruption.

    Masks depend only on the clip, the level and the seed, never on the model, so every model a process evaluates
    (and every protocol check) reuses them and their digests (hashing them was ~1 s of a default run's workers).
    """

    key = (str(store.path), store.fingerprint, corruption.name, corruption.variant,
           tuple(lv.label for lv in corruption.levels), mask_seed, split)  # the levels too: a sub-sweep has its own
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


def _lossy_levels(level_stacks: list[dict[str, np.ndarray]], rows: slice,
                  lengths: dict[str, np.ndarray]) -> list[int]:
    """Levels at which the clips ``rows`` have both received and lost frames (every level when none has)."""
    found = []
    for li, stack in enumerate(level_stacks):
        kept = lost = 0
        for m, lens in lengths.items():
            part = stack[m][rows]
            valid = np.arange(part.shape[1])[None, :] < lens[:, None]
            kept += int((part & valid).sum())
            lost += int((~part & valid).sum())
        if kept and lost:
            found.append(li)
    return found or list(range(len(level_stacks)))


EVAL_PATH_CHOICES = ("auto", "folded", "honest")


def predict_under_corruption(model: Any, store: FeatureStore, corruption: Any, mask_seed: int,
                             device: str = "cpu", batch_size: int = 64, eval_path: str | None = None,
                             split: str = "test", precision: str = "fp32") -> predictions.Predictions:
    """Outputs of ``model`` on the test split (or ``split``) at every level of ``corruption``, as the arrays of a
    predictions file, with the record of how they were made (:meth:`avbench.execution.contract.Contract.record`)."""
    task = get_task(model.task)
    test = store.split_indices(split)
    outputs, diff, path = _evaluate(model, store, corruption, mask_seed, device, batch_size, eval_path, split,
                                    precision)
    arrays = predictions.make(
        store.clips["clip_id"].to_numpy()[test], [lv.label for lv in corruption.levels],
        [lv.x for lv in corruption.levels], outputs, task.targets(store, test),
        task.name, task.names(store), mask_digests(store, corruption, mask_seed, split))
    outcome = "passed" if type(model).foldable else "not-foldable"
    arrays.update(Contract(outcome, diff, path).record(type(model).sees_masks))
    return arrays


def infer(model: Any, store: FeatureStore, corruption: Any, mask_seed: int, device: str = "cpu",
          batch_size: int = 64, eval_path: str | None = None, split: str = "test", precision: str = "fp32",
          positions: np.ndarray | None = None, level_indices: Sequence[int] | None = None) -> np.ndarray:
    """Outputs of ``model`` on the label scale, ``(levels, clips, outputs)``: the clips of ``split`` at
    ``positions`` (default: all, in split order) under the levels ``level_indices`` of ``corruption`` (default: all)
    — the sample ``avbench submit`` re-infers to check a submission, made exactly as a run makes it."""
    return _evaluate(model, store, corruption, mask_seed, device, batch_size, eval_path, split, precision, positions,
                     level_indices)[0]


@torch.inference_mode()
def _evaluate(model: Any, store: FeatureStore, corruption: Any, mask_seed: int, device: str = "cpu",
              batch_size: int = 64, eval_path: str | None = None, split: str = "test", precision: str = "fp32",
              positions: np.ndarray | None = None, level_indices: Sequence[int] | None = None
              ) -> tuple[np.ndarray, float | None, str]:
    """(outputs on the label scale ``(levels, clips, outputs)``, the spot check's difference, the path taken).

    Clips are batched shortest first (:func:`length_order`) and the outputs returned in the order asked. It runs in
    inference mode, not only without gradients: no version counters or view tracking on a sweep's many small
    tensors (~5 % of evaluation, identical outputs).
    ``folded`` (``None``/``auto``: unless the model declares ``foldable = False``): the frontend runs once per batch
    of clean clips, one frame at a time; each level then only replaces its lost frames and runs ``fuse``, which is
    what keeps an extra level close to one forward pass. ``honest``: the frontend of every level's zero-filled
    inputs. Both give the same outputs by construction (:mod:`avbench.execution.contract`). Each level is evaluated
    by its own fresh instance of the model (:mod:`avbench.execution.isolation`), and one batch of one level is
    compared with a fresh instance's honest evaluation computed before anything else ran. Clean batches are
    collated in the background while the previous one is evaluated; targets are never collated.
    """
    if eval_path not in (None, *EVAL_PATH_CHOICES):
        raise UserError(f"path must be one of {', '.join(EVAL_PATH_CHOICES)}, got {eval_path!r}")
    auto = eval_path in (None, "auto")
    path = ("folded" if type(model).foldable else "honest") if auto else eval_path
    label = type(model).name or type(model).__name__
    model.eval()
    task = get_task(model.task)
    collator = Collator(store, type(model).modalities)
    test = store.split_indices(split)
    chosen = np.arange(len(test)) if positions is None else np.asarray(positions, dtype=np.int64)
    levels = list(range(len(corruption.levels))) if level_indices is None else [int(i) for i in level_indices]
    clips = test[chosen]
    order = length_order(store, clips)
    all_masks = _split_masks(store, corruption, mask_seed, split)[0]
    level_stacks = [stack_masks([all_masks[li][chosen[i]] for i in order], collator.modalities) for li in levels]
    outputs: list[list[np.ndarray]] = [[] for _ in levels]
    starts = range(0, len(clips), batch_size)
    chunks = [clips[order[start : start + batch_size]] for start in starts]
    cuda = torch.device(device).type == "cuda"
    # one instance per level, made before any call: level k's copy sees level k's batches only
    guard = WeightsGuard(model, label)
    fresh = FreshCopies(model)
    instances = [fresh() for _ in levels]
    spot_batch, spot_level = spot_point(len(chunks), lambda b: _lossy_levels(
        level_stacks, slice(starts[b], starts[b] + batch_size),
        {m: np.array([len(store.present(m, int(i))) for i in chunks[b]]) for m in collator.modalities}), mask_seed)

    def level_batch(clean: Any, start: int, li: int, zero_fill: bool) -> Any:
        masks = _mask_tensors(level_stacks[li], slice(start, start + batch_size), clean.lengths)
        return clean.with_masks({m: t.to(device, non_blocking=cuda) for m, t in masks.items()}, zero_fill=zero_fill)

    diff = None
    with autocast(device, precision), kept_frames_refused(model):
        spot_clean = collator(chunks[spot_batch]).to(device)
        reference = level_outputs(fresh(), level_batch(spot_clean, starts[spot_batch], spot_level, True))
        for bi, (start, clean) in enumerate(zip(starts, prefetch(chunks, collator, device), strict=True)):
            folded = frontend_frames(model, clean.inputs) if path == "folded" else None
            for li, instance in enumerate(instances):
                out = level_outputs(instance, level_batch(clean, start, li, zero_fill=folded is None), folded)
                if (bi, li) == (spot_batch, spot_level):
                    guard.check()  # a write into shared weights is named as such, not as a difference
                    diff = spot_check(label, out, reference, precision,
                                      f"{corruption.levels[levels[li]].label}, batch {bi + 1} of {len(chunks)}")
                outputs[li].append(task.activate(out).float().cpu().numpy())
    guard.check()
    stacked = np.empty((len(outputs), len(clips), *outputs[0][0].shape[1:]), dtype=np.float32)
    stacked[:, order] = np.stack([np.concatenate(o) for o in outputs])  # back to the order asked
    return task.to_label_scale(stacked, collator), diff, path


def run_eval_unit(ctx: UnitContext, spec: TrainSpec, corruption_name: str) -> dict[str, Any]:
    started = time.perf_counter()
    set_threads()
    corruption = resolve(corruption_name, ctx.extra.get("corruption_settings"))
    path = predictions.path(ctx.run_dir, spec.label, spec.seed, corruption_name)
    store = ctx.store()
    root = Path(ctx.checkpoint_root) if ctx.checkpoint_root else None
    if predictions.is_current(path, len(corruption.levels), cached_weights(spec, store, root)):
        return {"path": str(path), "skipped": True, "seconds": time.perf_counter() - started}
    model, _, directory = load_or_train(spec, store, ctx.device, root=root)
    arrays = predict_under_corruption(model, store, corruption, ctx.mask_seed, ctx.device, split=ctx.split,
                                      precision=spec.precision)
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
