"""Checking a submitted run directory against the protocol it declares, before anything is recomputed.

A submission is untrusted data. It is read with ``json`` and ``np.load(..., allow_pickle=False)`` only, never
imported or unpickled; every path derived from it must stay inside the run directory. The protocol is recomputed
rather than believed: the feature store is opened (the embedded synthetic dataset is regenerated from its seed),
and the fingerprint, the test clip ids in store order, the targets, the corruption level labels and positions,
and the digest of every level's keep-masks must all equal what avbench itself produces. Any mismatch raises
:class:`UserError` naming the model, seed, corruption and the first difference.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avbench.rundir import predictions
from avbench.execution.contract import evaluation_record, folded_despite_failure, merge_records
from avbench.corruptions import Corruption, get as get_corruption
from avbench import validate
from avbench.data.datasets import EMBEDDED, open_path, regenerate_embedded
from avbench.errors import UserError
from avbench.rundir.record import RUN_JSON, read_record
from avbench.data.store import FeatureStore
from avbench.tasks import get as get_task, names as task_names
from avbench.execution.training import TrainSpec, checkpoint_dir
from avbench.execution.units import mask_digests
from avbench.models import REGISTRY, label_training, parse_label
from avbench.protocols import REGISTRY as PROTOCOLS
from avbench.rundir.provenance import model_code_hash


@dataclass(frozen=True)
class Submission:
    """A run directory whose predictions passed every check: what :mod:`avbench.leaderboards.submit` rescoring
    and the entry need."""

    run_dir: Path
    info: dict[str, Any]
    store: FeatureStore
    labels: list[str]
    tasks: dict[str, str]
    seeds: list[int]
    corruptions: list[Corruption]
    digests: dict[str, list[str]]  # corruption -> per-level mask digest
    clip_ids_sha256: str
    predictions_sha256: dict[str, str]  # label -> digest of all its prediction files
    checkpoint_hashes: dict[str, str | None]  # label -> checked digest of its seeds' weights (None: none claimed)
    code_hashes: dict[str, str | None]  # label -> this avbench's digest of the model's code (None: not registered)
    evaluation: dict[str, dict[str, Any]]  # label -> mask access and evaluation path (avbench.execution.contract)


def _read_run_json(run_dir: Path) -> dict[str, Any]:
    info = read_record(run_dir).as_dict()
    path = run_dir / RUN_JSON
    if info.get("status") != "complete":
        raise UserError(f"{path}: the run is not complete (status {info.get('status')!r}); finish it with "
                        "`avbench run ... --resume` first")
    required = ("dataset", "dataset_fingerprint", "models", "model_tasks", "corruptions", "seeds", "mask_seed",
                "bootstrap")
    missing = [k for k in required if k not in info]
    if missing:
        raise UserError(f"{path}: missing field(s) {', '.join(missing)}")
    validate.run_record(info, "run.json")
    return info


def _check_label(label: Any) -> str:
    """A model label must be a plain name: it becomes a directory name and part of an entry's file name."""
    if not isinstance(label, str) or not label or label in (".", "..") or any(c in label for c in "/\\\0") \
            or len(label) > 200:
        raise UserError(f"invalid model label {label!r} in run.json")
    return label


def _int_list(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise UserError(f"run.json: {what} must be a non-empty list of integers, got {value!r}")
    return list(value)


def open_store(info: dict[str, Any], store_path: str | Path | None) -> FeatureStore:
    """The feature store the run was evaluated on, verified: ``--store`` checked against its own content, or the
    embedded dataset regenerated from its seed (no cached copy is trusted)."""
    dataset = info["dataset"]
    if store_path is not None:
        store = open_path(Path(store_path))
    elif dataset in EMBEDDED:
        seed = info.get("dataset_seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise UserError(f"run.json: dataset_seed must be a non-negative integer, got {seed!r}")
        store = regenerate_embedded(dataset, seed)
    else:
        raise UserError(f"cannot recompute the protocol of dataset {dataset!r}: pass --store with the path of its "
                        "feature store (only the embedded datasets can be regenerated)")
    if store.fingerprint != info["dataset_fingerprint"]:
        raise UserError(f"protocol mismatch: the run's dataset fingerprint {info['dataset_fingerprint']!r} is not "
                        f"that of {store.name!r} ({store.fingerprint!r})")
    return store


def _declared_corruptions(info: dict[str, Any]) -> list[Corruption]:
    declared = info["corruptions"]
    if not isinstance(declared, dict) or not declared:
        raise UserError("run.json: corruptions must map each corruption to its level labels")
    corruptions = []
    for name, levels in declared.items():
        corruption = get_corruption(name)
        expected = [lv.label for lv in corruption.levels]
        if levels != expected:
            raise UserError(f"protocol mismatch: run.json declares levels {levels!r} for {name!r}, avbench's "
                            f"{name!r} has {expected!r}")
        corruptions.append(corruption)
    return corruptions


def _inside(path: Path, root: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UserError(f"refusing to read {path}: it resolves outside the run directory")
    return resolved


def _evaluation(data: dict[str, np.ndarray], where: str, declared: Any) -> dict[str, Any]:
    """The file's record of how it was made; refused when it was folded although the contract check failed, or
    when it disagrees with what run.json recorded for the model (one of the two was edited)."""
    try:
        record = evaluation_record(data, where)
    except ValueError as exc:
        raise UserError(f"{exc}; re-run it with this avbench version") from None
    if folded_despite_failure(record):
        raise UserError(f"{where}: predictions were made through the folded frontend although the model failed the "
                        "per-frame contract check (lost frames leak into kept ones); evaluate it by the honest path")
    if not isinstance(declared, dict) or declared.get("eval_path") != record["eval_path"] \
            or declared.get("sees_masks") != record["sees_masks"]:
        raise UserError(f"{where}: evaluation path {record['eval_path']!r} / mask access {record['sees_masks']} "
                        f"disagree with run.json's record {declared!r}")
    return record


def _sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def verify_run(run_dir: str | Path, store_path: str | Path | None = None) -> Submission:
    """Check a run directory's every predictions file against the recomputed protocol; return what passed."""
    root = Path(run_dir)
    if not root.is_dir():
        raise UserError(f"submission {root} is not a directory")
    info = _read_run_json(root)
    labels = info["models"]
    if not isinstance(labels, list) or not labels:
        raise UserError("run.json: models must be a non-empty list of labels")
    labels = [_check_label(label) for label in labels]
    tasks = info["model_tasks"]
    if not isinstance(tasks, dict) or any(tasks.get(label) not in task_names() for label in labels):
        raise UserError(f"run.json: model_tasks must give every model one of {', '.join(task_names())}")
    seeds = _int_list(info["seeds"], "seeds")
    mask_seed = info["mask_seed"]
    if not isinstance(mask_seed, int) or isinstance(mask_seed, bool):
        raise UserError(f"run.json: mask_seed must be an integer, got {mask_seed!r}")
    if info.get("split", "test") != "test":
        raise UserError(f"run.json: the run evaluated the {info.get('split')!r} split; leaderboards rank test-split "
                        "runs only")
    store = open_store(info, store_path)
    corruptions = _declared_corruptions(info)
    test = store.split_indices("test")
    test_ids = np.asarray(store.clips["clip_id"].to_numpy()[test]).astype(str)
    digests = {c.name: mask_digests(store, c, mask_seed) for c in corruptions}  # masks cached per process
    predictions_dir = root / "predictions"
    files: dict[str, list[Path]] = {}
    weights: dict[tuple[str, int], set[str | None]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    declared = info.get("evaluation") if isinstance(info.get("evaluation"), dict) else {}
    for label in labels:
        task = get_task(tasks[label])
        targets, names = task.targets(store, test), task.names(store)
        for seed in seeds:
            for corruption in corruptions:
                path = _inside(predictions.path(root, label, seed, corruption.name), predictions_dir)
                where = f"{label} seed {seed} {corruption.name}"
                if not path.is_file():
                    raise UserError(f"incomplete submission: {where} has no predictions file ({path.name} missing)")
                data = predictions.load(path, where)
                predictions.validate(data, where, task.name, [lv.label for lv in corruption.levels],
                                     [lv.x for lv in corruption.levels], test_ids, targets, names,
                                     digests[corruption.name])
                records.setdefault(label, []).append(_evaluation(data, where, declared.get(label)))
                files.setdefault(label, []).append(path)
                weights.setdefault((label, seed), set()).add(_weights_of(data, where))
    return Submission(
        run_dir=root, info=info, store=store, labels=labels, tasks={label: tasks[label] for label in labels},
        seeds=seeds, corruptions=corruptions, digests=digests,
        clip_ids_sha256=hashlib.sha256("\n".join(test_ids.tolist()).encode()).hexdigest(),
        predictions_sha256={label: _sha256_files(paths) for label, paths in files.items()},
        checkpoint_hashes={label: _checkpoint_hash(info, label, seeds, weights, store) for label in labels},
        code_hashes={label: _code_hash(info, label) for label in labels},
        evaluation={label: merge_records(found) for label, found in records.items()},
    )


def _weights_of(data: dict[str, np.ndarray], where: str) -> str | None:
    """The sha256 of the checkpoint that made these predictions, as the eval unit recorded it."""
    if predictions.WEIGHTS_KEY not in data:
        return None
    value = str(np.asarray(data[predictions.WEIGHTS_KEY]))
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise UserError(f"{where}: {predictions.WEIGHTS_KEY} is not a sha256 digest")
    return value


def _checkpoint_hash(info: dict[str, Any], label: str, seeds: list[int],
                     weights: dict[tuple[str, int], set[str | None]], store: FeatureStore) -> str | None:
    """The checkpoint digest an entry may record: the one the predictions themselves carry, equal to what
    ``run.json`` claims and to the checkpoint in this machine's cache when it is there. A claimed hash that the
    predictions do not carry cannot be checked, and is refused."""
    per_seed: dict[int, str | None] = {}
    for seed in seeds:
        found = weights.get((label, seed), {None})
        if len(found) != 1:
            raise UserError(f"{label} seed {seed}: predictions of different corruptions come from different weights")
        per_seed[seed] = next(iter(found))
    claimed_seeds = (info.get("checkpoint_weights_sha256") or {}).get(label)
    claimed = (info.get("checkpoint_hashes") or {}).get(label)
    if any(h is None for h in per_seed.values()):
        if claimed or claimed_seeds or any(per_seed.values()):
            raise UserError(f"run.json claims checkpoint weights for {label!r} that its predictions do not carry, "
                            "so they cannot be checked; re-run the evaluation with this avbench")
        return None
    if claimed_seeds is not None and claimed_seeds != {str(s): h for s, h in per_seed.items()}:
        raise UserError(f"{label}: run.json's checkpoint hashes differ from those its predictions carry")
    combined = hashlib.sha256("".join(per_seed[s] or "" for s in sorted(per_seed)).encode()).hexdigest()
    if claimed is not None and claimed != combined:
        raise UserError(f"{label}: run.json's checkpoint hash differs from the predictions' weights")
    _check_cached_weights(info, label, per_seed, store)
    return combined


def _check_cached_weights(info: dict[str, Any], label: str, per_seed: dict[int, str | None],
                          store: FeatureStore) -> None:
    """Where this machine has trained the model the run names, its weights must be the predictions' weights."""
    model, overrides = parse_label(label)[0], info.get("overrides") or {}
    if model not in REGISTRY or label_training(label) not in PROTOCOLS or not isinstance(overrides, dict) \
            or not isinstance(info.get("config", "tiny"), str):
        return
    for seed, digest in per_seed.items():
        spec = TrainSpec(model, seed, info.get("config", "tiny"), info.get("task"), overrides, info.get("epochs"),
                         training=label_training(label))
        weights_file = checkpoint_dir(spec, store) / "weights.safetensors"
        if weights_file.is_file() and hashlib.sha256(weights_file.read_bytes()).hexdigest() != digest:
            raise UserError(f"{label} seed {seed}: the predictions were not made by {model!r}'s checkpoint "
                            f"({weights_file.parent.name} has other weights)")


def _code_hash(info: dict[str, Any], label: str) -> str | None:
    """This avbench's digest of the model's code; the run's must be the same (other code = another model)."""
    model = parse_label(label)[0]
    if model not in REGISTRY:
        return None
    mine, theirs = model_code_hash(model), (info.get("code_hashes") or {}).get(label)
    if theirs is not None and theirs != mine:
        raise UserError(f"{label}: the run used other code for {model!r} than this avbench (code hash {theirs!r}, "
                        f"here {mine!r})")
    return mine
