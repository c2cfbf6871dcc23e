"""``avbench.evaluate``: a model's outputs under a corruption, exactly as a run computes them, for plugin authors.

A run's eval unit loads a checkpoint and calls :func:`avbench.execution.units.predict_under_corruption`; this is
the same call on a model already in hand (trained or not) and a dataset and corruption named as on the command
line, with every argument checked first. Its point is the comparison the harness makes only at one spot: the
default path (the frontend once per clean clip) against ``path="honest"`` (the frontend of every level's
zero-filled inputs), each level by a fresh instance — equal outputs mean a model's reported numbers are its honest
ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from avbench import validate
from avbench.corruptions import get as get_corruption
from avbench.data.datasets import open_dataset
from avbench.data.store import FeatureStore
from avbench.errors import UserError
from avbench.execution.training import check_precision
from avbench.execution.units import predict_under_corruption
from avbench.models import EmotionModel, unusable_reason
from avbench.rundir.predictions import Predictions

PATHS = ("auto", "honest")


def evaluate(model: EmotionModel, dataset: str | Path | FeatureStore, corruption: Any, seed: int = 0,
             path: str = "auto", *, split: str = "test", device: str = "cpu", precision: str = "fp32") -> Predictions:
    """The per-level outputs of ``model`` on ``dataset``'s test split (or ``split``) under ``corruption`` (a name,
    as ``--corruption`` takes it, or a registry entry), with keep-masks drawn from ``seed`` (``--mask-seed``).

    ``path="auto"``: as a run evaluates (the frontend once per batch of clean clips, unless the model declares
    ``foldable = False``); ``"honest"``: the frontend of every level's zero-filled inputs. Returns the arrays of a
    predictions file: ``outputs`` (levels × clips × outputs, probabilities or attribute values), ``levels``, ``x``,
    ``clip_ids``, ``targets``, ``names``, ``task``, ``mask_digests`` and the evaluation record (``eval_path``,
    ``contract``, ``contract_max_diff``, ``sees_masks``). The model is put in eval mode; its weights are not changed.
    """
    if not isinstance(model, EmotionModel):
        raise UserError(f"evaluate needs an avbench.models.EmotionModel instance, got {type(model).__name__}")
    if path not in PATHS:
        raise UserError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    validate.at_least(seed, 0, "seed")
    check_precision(precision)
    validate.device_name(device)
    store = dataset if isinstance(dataset, FeatureStore) else open_dataset(str(dataset))
    entry = get_corruption(corruption) if isinstance(corruption, str) else corruption
    problem = unusable_reason(type(model), store.modalities, model.task, store.labelled_tasks)
    if problem:
        raise UserError(f"model {type(model).name or type(model).__name__!r} {problem} ({store.name!r})")
    store.split_indices(split)  # an unknown split is refused before any work
    return predict_under_corruption(model.to(device), store, entry, seed, device, eval_path=path, split=split,
                                    precision=precision)
