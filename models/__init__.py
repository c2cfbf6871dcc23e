"""The model registry: ``avbench.models.get(name, config="tiny"|"paper", **overrides)``.

The registry and its shared decisions live in :mod:`avbench.models.registry`, the model contract in
:mod:`avbench.models.base`, command-line settings checks in :mod:`avbench.models.settings`; this package face hands
their names on.
"""
from avbench.models.base import Batch, EmotionModel, FeatureDims, Recipe, Targets
from avbench.models.registry import (RECIPE, REGISTRY, default_dims, task_for, format_label, get, label_training,
                                     model_class, model_modalities, names, parse_label, split_training, supports,
                                     unusable_reason)
from avbench.models.settings import check_settings

__all__ = ["Batch", "EmotionModel", "FeatureDims", "Recipe", "Targets", "REGISTRY", "names", "model_class", "get",
           "default_dims", "task_for", "supports", "unusable_reason", "format_label", "parse_label",
           "model_modalities", "check_settings", "RECIPE", "label_training", "split_training"]
