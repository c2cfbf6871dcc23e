"""The model registry and the decisions every caller shares about a model: which task it runs on a dataset, whether
it can run there at all, and how its results label is written and read back.

Entries are lazy ``"module:Class"`` strings so that importing the registry does not build any network. Third-party
models register through the ``avbench.models`` entry-point group, or are named directly as ``package.module:Class``.
"""
from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
from typing import Any

from avbench.data.vocabulary import SYNTHETIC_SHAPES
from avbench.errors import UserError
from avbench.models.base import EmotionModel, FeatureDims, missing_modalities
from avbench.registry import Registry
from avbench.tasks import get as get_task

REGISTRY: Registry[type[EmotionModel]] = Registry(
    "model", entry_point_group="avbench.models",
    entries={
        "raver": "avbench.models.raver:RAVER",
        "auxformer": "avbench.models.auxformer:AuxFormer",
        "vavl": "avbench.models.vavl:VAVL",
        "mult": "avbench.models.mult:MulT",
        "sfav": "avbench.models.sfav:SFAV",
        "tlstm": "avbench.models.tlstm:TLSTM",
        "ser": "avbench.models.unimodal:SER",
        "fer": "avbench.models.unimodal:FER",
        "late-fusion": "avbench.models.late_fusion:LateFusion",
        "late-fusion-masked": "avbench.models.late_fusion:LateFusionMasked",
        "align-vw": "avbench.models.word_chunk:AlignVW",
        "align-fw": "avbench.models.word_chunk:AlignFW",
        "align-multiscalew": "avbench.models.word_chunk:AlignMultiScaleW",
        "align-vw-ownquery": "avbench.models.word_chunk:AlignVWOwnQuery",
        "align-fw-ownquery": "avbench.models.word_chunk:AlignFWOwnQuery",
        "align-multiscalew-ownquery": "avbench.models.word_chunk:AlignMultiScaleWOwnQuery",
        "align-vw-ser": "avbench.models.word_chunk:AlignVWSER",
        "align-fw-ser": "avbench.models.word_chunk:AlignFWSER",
        "align-multiscalew-ser": "avbench.models.word_chunk:AlignMultiScaleWSER",
        "mdre-gru": "avbench.models.gru_fusion:MDREGRU",
        "mdre-gru-masked": "avbench.models.gru_fusion:MDREGRUMasked",
        "mdrea-gru": "avbench.models.gru_fusion:MDREAGRU",
    },
    base=EmotionModel, references=True,
)
names = REGISTRY.names
model_class = REGISTRY.get  # a registry name or a ``package.module:Class`` reference → an EmotionModel subclass


# -- tasks -----------------------------------------------------------------------------------------------------------
def supports(cls: type[EmotionModel], task: str) -> bool:
    """Can models of ``cls`` run ``task``? A task needs an output head (``Task.head``) the model lists in ``tasks``:
    the one model–task check, behind building, training and the runner's model selection."""
    return get_task(task).head in cls.tasks


def task_for(cls: type[EmotionModel], labelled: Collection[str] | None = None, requested: str | None = None) -> str:
    """The task a model runs: ``requested`` when given, else its first task the dataset has labels for
    (``labelled``; None = no dataset, as when building for the embedded shapes), else its first task."""
    if requested:
        return requested
    return next((t for t in cls.tasks if labelled is None or t in labelled), cls.tasks[0])


def unusable_reason(cls: type[EmotionModel], modalities: Collection[str], task: str | None = None,
                    labelled: Collection[str] | None = None) -> str:
    """Why ``cls`` cannot run on a dataset with ``modalities`` and labels for ``labelled`` (None: not known) on
    ``task`` (None: its default): '' when it can."""
    missing = missing_modalities(cls.modalities, modalities)
    if missing:
        return f"needs {', '.join(missing)}, which the dataset lacks"
    if task and not supports(cls, task):
        return f"does not do task {task!r}"
    if labelled is not None:
        if task and get_task(task).head not in labelled:
            return f"cannot be scored on task {task!r}: the dataset has no {get_task(task).head} labels"
        if not task and not any(t in labelled for t in cls.tasks):
            return f"does {' and '.join(cls.tasks)}, for which the dataset has no labels"
    return ""


# -- labels ----------------------------------------------------------------------------------------------------------
RECIPE = "recipe"  # the training protocol of a model's own recipe: the default, and never written in a label
TRAINING_MARK = "@"  # ``raver@clean``: the model trained under another training protocol (avbench.protocols)


def format_label(name: str, overrides: Mapping[str, Any] | None = None, training: str | None = None) -> str:
    """A model's name in results, predictions paths and entries: ``raver``, ``raver[n_ctx=16]`` with overrides
    (sorted by key), and ``raver@clean`` when trained under a training protocol other than its own recipe (so a
    default run's labels, paths and checkpoints are those of a run without protocols). :func:`parse_label` reads it
    back, :func:`label_training` reads the protocol."""
    label = name
    if overrides:
        label += "[" + ",".join(f"{k}={v}" for k, v in sorted(overrides.items())) + "]"
    return label if training in (None, RECIPE) else f"{label}{TRAINING_MARK}{training}"


def split_training(label: str) -> tuple[str, str]:
    """``raver[n_ctx=16]@clean`` → (``raver[n_ctx=16]``, ``clean``); a label without a protocol → (label,
    ``recipe``). Only an ``@`` after the overrides' closing bracket counts, so an override value may contain one."""
    head, bracket, tail = label.rpartition("]")
    base, mark, training = tail.rpartition(TRAINING_MARK)
    if not mark:
        return label, RECIPE
    return head + bracket + base, training


def label_training(label: str) -> str:
    """The training protocol a results label names (``recipe`` when it names none)."""
    return split_training(label)[1]


def parse_label(label: str) -> tuple[str, dict[str, Any]]:
    """``raver[n_ctx=16]`` → (``raver``, {"n_ctx": 16}); the inverse of :func:`format_label` (values read as Python
    literals, as ``--set`` reads them). A training protocol (``@clean``) is read by :func:`label_training`."""
    name, bracket, rest = split_training(label)[0].partition("[")
    overrides: dict[str, Any] = {}
    if bracket:
        for pair in _top_level_items(rest.removesuffix("]")):
            key, _, raw = pair.partition("=")
            try:
                overrides[key] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                overrides[key] = raw
    return name, overrides


def _top_level_items(text: str) -> list[str]:
    """``a=1,b=(1, 2)`` → [``a=1``, ``b=(1, 2)``]: commas inside brackets belong to a value."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item for item in items if item]


def model_modalities(label: str) -> tuple[str, ...] | None:
    """The modalities of the model behind a results label, or None when the label names no model this installation
    knows (a plugin that is not installed)."""
    try:
        return tuple(model_class(parse_label(label)[0]).modalities)
    except UserError:
        return None


# -- building --------------------------------------------------------------------------------------------------------
def default_dims(config: str = "tiny") -> FeatureDims:
    """Frame shapes of the embedded datasets: ``synthetic`` for tiny, ``synthetic-paper`` for paper."""
    return FeatureDims(dict(SYNTHETIC_SHAPES["paper" if config == "paper" else "tiny"]))


def get(name: str, config: str = "tiny", dims: FeatureDims | None = None, n_outputs: int | None = None,
        task: str | None = None, **overrides: Any) -> EmotionModel:
    """Build a model. Defaults: the embedded dataset's shapes, the model's default task, 6 emotions or 3 attributes."""
    cls = model_class(name)
    if config not in cls.configs:
        raise UserError(f"model {name!r} has no config {config!r}; choose from {', '.join(cls.configs)}")
    task = task_for(cls, requested=task)
    if not supports(cls, task):
        raise UserError(f"model {name!r} does not do task {task!r}; it does {', '.join(cls.tasks)}")
    n_outputs = n_outputs or get_task(task).default_outputs
    params = cls.config_for(config, **overrides)
    try:
        return cls(dims or default_dims(config), n_outputs, task, **params)
    except TypeError as exc:
        raise UserError(f"bad override for {name!r}: {exc}") from None
