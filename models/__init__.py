"""The model registry: ``avbench.models.get(name, config="tiny"|"paper", **overrides)``.

Entries are lazy ``"module:Class"`` strings so that importing the registry does not build any network. Third-party
models register through the ``avbench.models`` entry-point group, or are named directly as ``package.module:Class``.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from avbench.errors import UserError
from avbench.registry import Registry
from avbench.tasks import get as get_task
from avbench.models.base import EmotionModel, FeatureDims, Recipe, missing_modalities

__all__ = ["EmotionModel", "FeatureDims", "Recipe", "REGISTRY", "names", "model_class", "get", "default_dims",
           "unusable_reason", "model_modalities"]

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


def unusable_reason(cls: type[EmotionModel], modalities: Collection[str], task: str | None = None) -> str:
    """Why ``cls`` cannot run on a dataset with ``modalities`` (and ``task``): '' when it can. The one
    model–modality check, used by the runner's model selection and by training."""
    missing = missing_modalities(cls.modalities, modalities)
    if missing:
        return f"needs {', '.join(missing)}, which the dataset lacks"
    if task and get_task(task).head not in cls.tasks:
        return f"does not do task {task!r}"
    return ""


def model_modalities(label: str) -> tuple[str, ...] | None:
    """The modalities of the model behind a results label (``raver`` or ``raver[n_ctx=16]``), or None when the
    label names no model this installation knows (a plugin that is not installed)."""
    try:
        return tuple(model_class(label.split("[", 1)[0]).modalities)
    except UserError:
        return None


def default_dims(config: str = "tiny") -> FeatureDims:
    """Frame shapes of the embedded datasets: ``synthetic`` for tiny, ``synthetic-paper`` for paper."""
    from avbench.synthetic import SYNTHETIC_SHAPES

    return FeatureDims(dict(SYNTHETIC_SHAPES["paper" if config == "paper" else "tiny"]))


def get(name: str, config: str = "tiny", dims: FeatureDims | None = None, n_outputs: int | None = None,
        task: str | None = None, **overrides: Any) -> EmotionModel:
    """Build a model. Defaults: the embedded dataset's shapes, the model's first task, 6 emotions or 3 attributes."""
    cls = model_class(name)
    if config not in cls.configs:
        raise UserError(f"model {name!r} has no config {config!r}; choose from {', '.join(cls.configs)}")
    task = task or cls.tasks[0]
    if get_task(task).head not in cls.tasks:
        raise UserError(f"model {name!r} does not do task {task!r}; it does {', '.join(cls.tasks)}")
    n_outputs = n_outputs or get_task(task).default_outputs
    params = cls.config_for(config, **overrides)
    try:
        return cls(dims or default_dims(config), n_outputs, task, **params)
    except TypeError as exc:
        raise UserError(f"bad override for {name!r}: {exc}") from None
