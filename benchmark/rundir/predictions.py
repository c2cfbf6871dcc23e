"""The predictions file: one ``.npz`` per model × seed × corruption, the only thing results are computed from.

``predictions/<label>/seed<k>/<corruption>.npz`` holds, for every level of the corruption, the per-clip outputs
on the label scale (probabilities, or de-normalised attribute values) with the clip ids, targets, output names,
the task, a digest of the masks and the evaluation record (path, contract outcome, mask access): enough to recompute every metric without running a model, and to check a
submitted run against the protocol. Files are plain arrays (``allow_pickle=False`` on every read) and are
written atomically. The runner, the scorer, ``avbench submit`` and the reports all go through this module.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from avbench import validate as validators
from avbench.atomic import write_npz
from avbench.errors import UserError
from avbench.tasks import get as get_task

KEYS = ("clip_ids", "levels", "x", "outputs", "targets", "task", "names", "mask_digests", "eval_path", "contract",
        "sees_masks")  # the last three: how the file was made (avbench.execution.contract's record)
WEIGHTS_KEY = "weights_sha256"  # sha256 of the checkpoint file that made the predictions, binding them to it
ALLOWED = (*KEYS, "contract_max_diff", WEIGHTS_KEY)  # anything else in a file is a rejection reason
Predictions = dict[str, np.ndarray]


def path(run_dir: str | Path, label: str, seed: int, corruption: str) -> Path:
    """Where a run keeps one model × seed × corruption (the label is made file-name safe)."""
    safe = "".join(c if c.isalnum() or c in "-_[]=.," else "_" for c in label).replace("..", "__")
    return Path(run_dir) / "predictions" / safe / f"seed{seed}" / f"{corruption}.npz"


def make(clip_ids: np.ndarray, levels: list[str], x: list[float], outputs: np.ndarray, targets: np.ndarray,
         task: str, names: list[str], mask_digests: list[str]) -> Predictions:
    """The arrays of one predictions file, with the dtypes every reader expects, except the evaluation record
    (:meth:`avbench.execution.contract.Contract.record`), which the caller adds."""
    return {
        "clip_ids": np.asarray(clip_ids, dtype=str),
        "levels": np.array(levels, dtype=str),
        "x": np.array(x, dtype=np.float64),
        "outputs": np.asarray(outputs, dtype=np.float32),
        "targets": np.asarray(targets, dtype=np.float32),
        "task": np.array(task),
        "names": np.array(names),
        "mask_digests": np.array(mask_digests),
    }


def save(target: Path, arrays: Predictions) -> None:
    """Write atomically (temporary file, fsync, rename)."""
    write_npz(target, arrays)


def load(source: Path, where: str | None = None) -> Predictions:
    """Every array of a predictions file, read without pickle; a missing, unreadable, oversized or incomplete file,
    or one holding arrays other than :data:`ALLOWED`, is a :class:`UserError` naming ``where`` (default: the path)."""
    where = where or str(source)
    if not source.is_file():
        raise UserError(f"{where}: no predictions file ({source} missing)")
    validators.npz_members(source, ALLOWED, where)  # from the zip directory, before anything is decompressed
    try:
        with np.load(source, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError as exc:  # object arrays need pickle: refused
        raise UserError(f"{where}: {source.name} cannot be read without pickle ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise UserError(f"{where}: {source.name} is not a readable .npz file ({exc})") from None
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise UserError(f"incomplete submission: {where} lacks array(s) {', '.join(missing)}")
    return arrays


def is_complete(source: Path, n_levels: int) -> bool:
    """A finished eval unit: every key present, one output block per level, and each array holding exactly what
    its header declares — read from the zip directory and the headers alone, so a resume never decompresses a
    file (a bomb in a run directory is redone, not expanded)."""
    try:
        shapes = validators.npz_members(source, ALLOWED, str(source))
    except UserError:  # missing, truncated, oversized or foreign file: the unit is simply redone
        return False
    outputs = shapes.get("outputs", ())
    return set(KEYS) <= set(shapes) and len(outputs) > 0 and outputs[0] == n_levels


def made_by(source: Path) -> str | None:
    """The checkpoint (``weights_sha256``) a finished file's predictions came from; None when the file does not say
    (or cannot be read). Reads that one small member only."""
    try:
        with np.load(source, allow_pickle=False) as data:
            return str(data[WEIGHTS_KEY]) if WEIGHTS_KEY in data.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, zlib.error):
        return None


def is_current(source: Path, n_levels: int, weights: str | None) -> bool:
    """A finished eval unit that a resumed run may keep: complete (:func:`is_complete`) and made by the checkpoint
    that the cache holds now (``weights``, its ``weights_sha256``; None when none is cached yet). Predictions of other
    weights — a run directory resumed with another cache, after retraining, on another machine — are redone, so a
    run's results always come from the checkpoints its provenance names."""
    return weights is not None and is_complete(source, n_levels) and made_by(source) == weights


def validate(data: Predictions, where: str, task: str, levels: list[str], x: list[float], test_ids: np.ndarray,
             targets: np.ndarray, names: list[str], digests: list[str]) -> None:
    """Check one file against the protocol recomputed by avbench (first failure raises a :class:`UserError`):
    task, output names, level labels and positions, clip ids in store order, output shape, dtype and range,
    targets and the mask digest of every level."""

    if str(data["task"]) != task:
        raise UserError(f"{where}: predictions are for task {str(data['task'])!r}, run.json says {task!r}")
    if [str(n) for n in np.atleast_1d(data["names"])] != names:
        raise UserError(f"{where}: output names {list(map(str, data['names']))} differ from the dataset's {names}")
    given_levels = [str(v) for v in np.atleast_1d(data["levels"])]
    if given_levels != levels:
        raise UserError(f"protocol mismatch: {where} has levels {given_levels}, expected {levels}")
    if not np.allclose(np.asarray(data["x"], dtype=np.float64), x):
        raise UserError(f"protocol mismatch: {where} places the levels at other x values than avbench")
    clip_ids = np.asarray(data["clip_ids"]).astype(str)
    if clip_ids.shape != test_ids.shape or not np.array_equal(clip_ids, test_ids):
        extra = sorted(set(clip_ids.tolist()) - set(test_ids.tolist()))[:3]
        absent = sorted(set(test_ids.tolist()) - set(clip_ids.tolist()))[:3]
        detail = (f"missing {absent}" if absent else "") + (f" unknown {extra}" if extra else "") or "another order"
        raise UserError(f"protocol mismatch: {where} clip ids are not the {len(test_ids)} test clips in store order "
                        f"({len(clip_ids)} given; {detail.strip()})")
    outputs = np.asarray(data["outputs"])
    if outputs.dtype.kind != "f":
        raise UserError(f"{where}: outputs must be floating point, got {outputs.dtype}")
    shape = (len(levels), len(test_ids), len(names))
    if outputs.shape != shape:
        raise UserError(f"incomplete submission: {where} outputs have shape {outputs.shape}, expected {shape} "
                        "(levels × clips × outputs)")
    if not np.all(np.isfinite(outputs)):
        raise UserError(f"{where}: outputs contain {int(np.sum(~np.isfinite(outputs)))} NaN or infinite values")
    problem = get_task(task).output_problem(outputs)
    if problem:
        raise UserError(f"{where}: {problem}")
    given = np.asarray(data["targets"], dtype=np.float32)
    if given.shape != targets.shape or not np.allclose(given, targets, atol=1e-6, equal_nan=True):
        raise UserError(f"protocol mismatch: {where} targets differ from the dataset's labels")
    given_digests = [str(d) for d in np.atleast_1d(data["mask_digests"])]
    for level, mine, theirs in zip(levels, digests, given_digests + [""] * len(digests)):
        if mine != theirs:
            raise UserError(f"protocol mismatch: {where} level {level!r} was evaluated with other masks than the "
                            "declared protocol (mask digest differs)")
