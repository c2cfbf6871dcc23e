"""Training one model on one dataset with one seed, following the model's own recipe.

The harness owns what every recipe shares — the loss criteria (soft-label CE, class-balanced CE, 1−CCC), modality
dropout, model selection on the development split, seeding and checkpointing — and the model owns its
architecture-specific steps (auxiliary losses, several updates per batch) through ``loss``/``train_step``.
"""
from __future__ import annotations

import contextlib
import copy
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from avbench.execution import PRECISIONS, checkpoints
from avbench.data.batching import Collator, prefetch
from avbench.cache import cache_dir
from avbench import validate
from avbench.errors import UserError
from avbench.models import (EmotionModel, FeatureDims, check_settings, format_label, get, model_class, task_for,
                            unusable_reason)
from avbench.models.base import kept_frames_refused, visible
from avbench.models.registry import RECIPE
from avbench.protocols import Training, recipe_training
from avbench.protocols import check as check_protocols
from avbench.protocols import get as get_protocol
from avbench.protocols.augment import Augmentation
from avbench.data.store import FeatureStore
from avbench.tasks import check as check_task
from avbench.tasks import get as get_task

EpochCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainSpec:
    """Everything that identifies a trained model; its hash keys the checkpoint cache."""

    model: str
    seed: int = 0
    config: str = "tiny"
    task: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)
    epochs: int | None = None  # None = the recipe's
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    training: str = RECIPE  # the training protocol (avbench.protocols)

    @property
    def label(self) -> str:
        """Model name as shown in results: ``raver``, ``raver[n_ctx=16]`` when overridden, ``raver@clean`` when
        trained under another training protocol than its recipe."""
        return format_label(self.model, self.overrides, self.training)

    def plan(self) -> Training:
        """What the training protocol does when training this model (:class:`avbench.protocols.Training`)."""
        return get_protocol(self.training).training(model_class(self.model), self.config, self.overrides)


# -- helpers ---------------------------------------------------------------------------------------------------
def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision='bf16'``; nothing at fp32, so fp32 numbers are untouched."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def check_train_spec(spec: TrainSpec, device: str) -> None:
    """Every setting of one training validated before anything is trained (``avbench train``; ``avbench run``
    checks the same settings for its grid)."""
    check_precision(spec.precision)
    check_protocols([spec.training])
    validate.seed(spec.seed, "--seed")
    validate.at_least(spec.epochs, 1, "--epochs", validate.MAX_EPOCHS)
    validate.device_name(device)
    check_task(spec.task)
    check_settings([spec.model], spec.config, spec.overrides)
    validate.checkpoint_cache()


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def make_optimizer(model: nn.Module, recipe: Any) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay, betas=recipe.betas)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, betas=recipe.betas)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def build_model(spec: TrainSpec, store: FeatureStore) -> EmotionModel:
    cls = model_class(spec.model)
    problem = unusable_reason(cls, store.modalities)
    if problem:
        raise UserError(f"model {spec.label!r} {problem} ({store.name!r})")
    task = task_for(cls, store.labelled_tasks, spec.task)
    dims = FeatureDims({m: tuple(s["shape"]) for m, s in store.modalities.items()})
    return get(spec.model, config=spec.config, dims=dims, n_outputs=get_task(task).n_outputs(store), task=task,
               **spec.overrides)


def checkpoint_dir(spec: TrainSpec, store: FeatureStore, root: Path | None = None) -> Path:
    """Where a training's checkpoint is cached: keyed by everything that changes the weights. The training protocol
    enters as what it does to this model (:meth:`TrainSpec.plan`), not by name: a protocol that trains the model
    as its recipe does keeps the recipe's key, so cached checkpoints stay valid and two protocols that train a
    model identically share one checkpoint."""
    fields = dict(spec.__dict__)
    if fields["precision"] == "fp32":  # fp32 keys predate the field: cached checkpoints stay valid
        del fields["precision"]
    del fields["training"]
    plan = spec.plan()
    recipe = plan == recipe_training(model_class(spec.model), spec.config)
    if not recipe:
        fields["training"] = plan.key()
    key = checkpoints.config_hash({"spec": fields, "dataset": store.fingerprint})
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in format_label(spec.model, spec.overrides))
    precision = "" if spec.precision == "fp32" else f"-{spec.precision}"
    training = "" if recipe else f"-{plan.slug}"
    return (root or cache_dir() / "checkpoints") / f"{safe}-{spec.config}{precision}{training}-seed{spec.seed}-{key}"


def cached_weights(spec: TrainSpec, store: FeatureStore, root: Path | None = None) -> str | None:
    """The ``weights_sha256`` of the checkpoint cached for ``spec`` (as its ``checkpoint.json`` records it; the
    weights themselves are checked against it when loaded), or None when none is cached."""
    try:
        return str(json.loads((checkpoint_dir(spec, store, root) / checkpoints.JSON).read_text())["weights_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def shared_checkpoints(specs: Sequence[TrainSpec], store: FeatureStore) -> dict[TrainSpec, list[TrainSpec]]:
    """The trainings of a grid that another one makes redundant: first spec → the later specs with its checkpoint
    directory (a protocol that trains the model exactly as another does, e.g. ``raver@modality-dropout`` and
    ``raver``). A run trains and evaluates the first only; the others share its weights and predictions."""
    first: dict[Path, TrainSpec] = {}
    twins: dict[TrainSpec, list[TrainSpec]] = {}
    for spec in specs:
        directory = checkpoint_dir(spec, store)
        if directory in first:
            twins.setdefault(first[directory], []).append(spec)
        else:
            first[directory] = spec
    return twins


def iterate(indices: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(indices) if rng is not None else indices
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def predict_split(model: nn.Module, collator: Collator, indices: np.ndarray, batch_size: int = 64,
                  device: str = "cpu", precision: str = "fp32") -> np.ndarray:
    """Model predictions (the task's activation: probabilities, or z-normalised attributes) for the clips, in order."""
    model.eval()
    with autocast(device, precision):
        outs = [model.predict(visible(model, batch)).float().cpu().numpy()
                for batch in prefetch(iterate(indices, batch_size, None), collator, device)]
    return np.concatenate(outs) if outs else np.zeros((0, model.n_outputs), np.float32)


def dev_score(model: nn.Module, collator: Collator, store: FeatureStore, device: str,
              precision: str = "fp32") -> float:
    """Selection score on the development split: the task's primary metric (:class:`avbench.tasks.Task`)."""
    task = get_task(model.task)
    dev = store.split_indices("dev")
    out = task.to_label_scale(predict_split(model, collator, dev, device=device, precision=precision), collator)
    return task.dev_score(task.targets(store, dev), out, task.names(store))


def train(spec: TrainSpec, store: FeatureStore, device: str = "cpu", on_epoch: EpochCallback | None = None):
    """Train from scratch with the model's recipe, augmented as its training protocol says; returns (model,
    description) with the best dev state loaded."""
    seed_everything(spec.seed)
    model = build_model(spec, store).to(device)
    recipe = type(model).recipes[spec.config]
    plan = spec.plan()
    model.regularise = not plan.regulariser_off
    augment = Augmentation(plan, store, spec.seed)
    epochs = recipe.epochs if spec.epochs is None else spec.epochs
    criterion = get_task(model.task).criterion(recipe.loss, store, recipe.cb_beta).to(device)
    optimizer = make_optimizer(model, recipe)
    collator = Collator(store, type(model).modalities)
    rng = np.random.default_rng(spec.seed)
    train_idx = store.split_indices("train")
    best_score, best_state, history = -np.inf, None, []
    for epoch in range(epochs):
        model.train()
        losses = []
        for item in prefetch(iterate(train_idx, recipe.batch_size, rng), collator.labelled, device):
            batch = visible(model, augment(item.batch, item.rows, rng))
            with autocast(device, spec.precision), kept_frames_refused(model):  # targets beside the batch
                losses.append(model.train_step(batch, item.targets, criterion, optimizer, recipe.grad_clip))
        loss = float(np.mean(losses))
        if not np.isfinite(loss):
            warnings.warn(f"{spec.label}: training loss became {loss} at epoch {epoch + 1}; keeping the best state")
            break
        score = dev_score(model, collator, store, device, spec.precision)
        history.append({"epoch": epoch + 1, "loss": round(loss, 6), "dev": round(score, 6)})
        if score > best_score:
            best_score, best_state = score, copy.deepcopy(model.state_dict())
        if on_epoch:
            on_epoch(epoch + 1, epochs)
    if best_state is not None:
        model.load_state_dict(best_state)
    description = {
        "model": spec.model, "label": spec.label, "config": spec.config, "task": model.task, "seed": spec.seed,
        "overrides": spec.overrides, "epochs": epochs, "precision": spec.precision, "dataset": store.name,
        "dataset_fingerprint": store.fingerprint,
        "best_dev": round(float(best_score), 6), "history": history, "parameters": model.num_parameters(),
    }
    if plan != recipe_training(type(model), spec.config):  # a recipe's description stays as it was
        description["training"] = {"protocol": spec.training, "plan": plan.key(), "what": plan.describe()}
    return model, description


def load_or_train(spec: TrainSpec, store: FeatureStore, device: str = "cpu", on_epoch: EpochCallback | None = None,
                  root: Path | None = None):
    """Reuse the cached checkpoint when it is valid; retrain (with a warning) when it is corrupt or its layout is
    broken (the checkpoint's directory replaced by a file, ``checkpoint.json`` by a directory)."""
    directory = checkpoint_dir(spec, store, root)
    checkpoints.repair_layout(directory)
    if checkpoints.exists(directory):
        model = build_model(spec, store).to(device)
        try:
            description = checkpoints.load(directory, model)
            return model, description, directory
        except checkpoints.CorruptCheckpoint as exc:
            warnings.warn(f"corrupt cached checkpoint, retraining: {exc}")
    model, description = train(spec, store, device, on_epoch)
    checkpoints.save(directory, model, description)
    return model, description, directory
