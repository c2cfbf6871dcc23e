"""What a model is asked to predict: the Task objects, the one place that knows how tasks differ.

A task fixes the model's outputs (how many, and their names from the feature store), the targets it is scored
against, how raw outputs become predictions (softmax over emotions; attribute values de-normalised back to the
corpus scale), the training loss, every metric of a condition with its bootstrap, the primary metric that ranks
models and selects checkpoints on the development split, the declared baseline model that effective robustness is
measured against, and what valid predictions look like. Nothing else in avbench branches on the task's name.

* ``emotion`` — multi-label, distributional: vote shares over C emotions, soft-label cross-entropy, softmax
  outputs, scored by macro-F1 (RAVER).
* ``attributes`` — regression of arousal, valence and dominance, trained with 1 − CCC, scored by mean CCC
  (the audio-text paper).
* ``category`` — single-label: the plurality emotion of the votes, cross-entropy on it, the most probable emotion
  as the decision, macro-F1. It runs on every model with an emotion head and was one subclass and one registry
  line: that is what adding a task takes (or an ``avbench.tasks`` entry point).
"""
from __future__ import annotations

from avbench.errors import unknown
from avbench.registry import Registry
from avbench.tasks.attributes import AttributeTask
from avbench.tasks.base import Task, Triple
from avbench.tasks.emotion import CategoryTask, EmotionTask

__all__ = ["Task", "Triple", "EmotionTask", "AttributeTask", "CategoryTask", "REGISTRY", "get", "names", "check"]

REGISTRY: Registry[Task] = Registry("task", entry_point_group="avbench.tasks", base=Task, entries={
    "emotion": EmotionTask(), "attributes": AttributeTask(), "category": CategoryTask()})
get = REGISTRY.get
names = REGISTRY.names


def check(name: str | None, option: str = "--task") -> None:
    """A requested task (None: each model's own) must be registered; answered with "did you mean"."""
    if name is not None and name not in names():
        raise unknown(option, name, names())
