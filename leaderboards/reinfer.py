"""Verified means re-inferred: ``avbench submit`` runs the checkpoint bound to every submitted model again.

Rescoring a submission's predictions proves only that its numbers follow from its predictions; hashes written by
the submitter prove nothing (late fusion's predictions, relabelled ``ser`` with ``ser``'s real weights hash
copied in, passed every such check). So for every model × seed the checkpoint is taken from this machine's cache
under the run's own settings (model, configuration, overrides, task, epochs, precision, seed, dataset
fingerprint) — or, when the cache does not hold it, trained here from those settings, deterministically as
``avbench run`` would — and it must be the checkpoint whose weights digest the predictions carry. It then
re-infers a sample of clips × levels of every predictions file and the outputs must match the submitted ones
within the precision's tolerance; the first mismatch refuses the submission.

The sample is drawn from the file's own content (seeded by its SHA-256), so a submitter cannot choose it, and it
is the same on every machine: :data:`SAMPLE_CLIPS` test clips at :data:`SAMPLE_LEVELS` levels of each file.
A sample bounds what can slip through without making verification cost another evaluation: outputs altered on a
fraction *f* of the clips are caught with probability 1 − (1 − f)^32 per file (80 % at f = 5 %, 96 % at 10 %);
a submitter can only hope to dodge it by trying altered files until one's sample misses every altered clip.
Models are re-run from the code installed on this machine (built in, an installed plugin, or a
``package.module:Class`` importable here), never from the submission, which stays data.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any

import numpy as np

from avbench.errors import UserError
from avbench.execution import checkpoints
from avbench.execution.training import TrainSpec, checkpoint_dir, load_or_train
from avbench.execution.units import infer
from avbench.leaderboards.verify import Submission
from avbench.models import format_label, label_training, model_class, parse_label
from avbench.protocols import REGISTRY as PROTOCOLS
from avbench.rundir import predictions

SAMPLE_CLIPS = 32  # test clips re-inferred per predictions file
SAMPLE_LEVELS = 3  # levels re-inferred per predictions file (all of them when there are fewer)
TOLERANCE = {"fp32": 1e-4, "bf16": 3e-2}  # |submitted − re-inferred| ≤ tol · (1 + |re-inferred|) per output


def reinfer_submission(sub: Submission) -> None:
    """Re-run every model × seed's checkpoint on each predictions file's sample; refuse the submission at the
    first output that does not match (one line naming model, seed, corruption, clip, level and output)."""
    info = sub.info
    precision = info.get("precision") or "fp32"
    if precision not in TOLERANCE:
        raise UserError(f"run.json: precision {precision!r} is not one of {', '.join(TOLERANCE)}")
    for label in sub.labels:
        for seed in sub.seeds:
            model = _checkpoint_model(sub, label, seed, precision)
            for corruption in sub.corruptions:
                _compare_sample(sub, label, seed, corruption, model, precision)


def _train_spec(sub: Submission, label: str, seed: int, precision: str) -> TrainSpec:
    """The run's settings for ``label`` and ``seed``, as the runner made them (run-wide task, overrides, epochs)."""
    info = sub.info
    name, _ = parse_label(label)
    try:
        model_class(name)  # this machine's code: built in, an installed plugin, or package.module:Class
    except UserError as exc:
        raise UserError(f"cannot re-infer {label!r} (verified means re-inferred), its model is not available here: "
                        f"{exc}") from None
    overrides, training = info.get("overrides") or {}, label_training(label)
    if training not in PROTOCOLS:
        raise UserError(f"cannot re-infer {label!r}: its training protocol {training!r} is not registered here")
    if not isinstance(overrides, dict) or format_label(name, overrides, training) != label:
        raise UserError(f"run.json: the label {label!r} does not follow from model {name!r} and the run's "
                        f"overrides {overrides!r}")
    config, task, epochs = info.get("config") or "tiny", info.get("task"), info.get("epochs")
    if not isinstance(config, str) or not (task is None or isinstance(task, str)) \
            or not (epochs is None or (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1)):
        raise UserError("run.json: config, task and epochs must be a name, a task name or null, and a positive "
                        "integer or null")
    return TrainSpec(name, seed, config, task, dict(overrides), epochs, precision, training)


def _checkpoint_model(sub: Submission, label: str, seed: int, precision: str) -> Any:
    """The model behind ``label`` × ``seed``: this machine's checkpoint for the run's settings (trained here when
    the cache lacks it), which must be the one whose digest the predictions carry."""
    digest = sub.weights.get((label, seed))
    if digest is None:
        raise UserError(f"{label} seed {seed}: the predictions name no checkpoint ({predictions.WEIGHTS_KEY} "
                        "missing), so they cannot be re-inferred; evaluate the model again with this avbench")
    spec = _train_spec(sub, label, seed, precision)
    directory = checkpoint_dir(spec, sub.store)
    if not checkpoints.exists(directory):
        warnings.warn(f"{label} seed {seed}: this cache has no checkpoint for the run's settings; training it here "
                      "to re-infer the predictions")
    model, _, directory = load_or_train(spec, sub.store, "cpu")
    actual = json.loads((directory / checkpoints.JSON).read_text())["weights_sha256"]
    if actual != digest:
        raise UserError(f"{label} seed {seed}: the predictions were not made by the {spec.model} checkpoint of the "
                        f"run's settings ({directory.name} has weights {actual[:12]}…, the predictions name "
                        f"{digest[:12]}…); a checkpoint trained on another machine differs in its last bits: copy "
                        f"its directory into {directory.parent} and submit again")
    return model


def sample(path_bytes: bytes, n_clips: int, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip positions and level indices to re-infer, drawn from the file's content (its SHA-256 seeds them)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(path_bytes).digest()[:8], "little"))
    clips = np.sort(rng.choice(n_clips, size=min(SAMPLE_CLIPS, n_clips), replace=False))
    levels = np.sort(rng.choice(n_levels, size=min(SAMPLE_LEVELS, n_levels), replace=False))
    return clips, levels


def _compare_sample(sub: Submission, label: str, seed: int, corruption: Any, model: Any, precision: str) -> None:
    path = predictions.path(sub.run_dir, label, seed, corruption.name)
    where = f"{label} seed {seed} {corruption.name}"
    data = predictions.load(path, where)
    submitted = np.asarray(data["outputs"], dtype=np.float64)
    clips, levels = sample(path.read_bytes(), submitted.shape[1], submitted.shape[0])
    mine = infer(model, sub.store, corruption, int(sub.info["mask_seed"]), "cpu", eval_path=str(data["eval_path"]),
                 split="test", precision=precision, positions=clips, level_indices=levels).astype(np.float64)
    theirs = submitted[np.ix_(levels, clips)]
    bad = np.abs(theirs - mine) > TOLERANCE[precision] * (1.0 + np.abs(mine))
    if bad.any():
        li, ci, oi = (int(i) for i in np.argwhere(bad)[0])
        clip_id = str(np.asarray(data["clip_ids"])[clips[ci]])
        level = str(np.asarray(data["levels"])[levels[li]])
        output = str(np.atleast_1d(data["names"])[oi])
        raise UserError(f"{where}: re-inferring its checkpoint does not reproduce the submitted predictions (first "
                        f"mismatch: clip {clip_id}, level {level!r}, {output}: submitted {theirs[li, ci, oi]:.6f}, "
                        f"re-inferred {mine[li, ci, oi]:.6f}; {int(bad.sum())} of {bad.size} sampled outputs differ)")
