"""Levels that no state can link: every corruption level is evaluated by its own instance of the model.

Evaluation runs every level on each batch of clean clips (the folded frontend is computed once per batch), so a
single model object would see a clean clip at one level and the same clip with frames lost at the next. A model
that keeps anything between calls — a cache of its inputs, a counter, a buffer it writes — could carry the clean
content into the lossy level, even on the honest path. So evaluation makes one :func:`fresh_copy` of the model per
level before the first batch: level k's copy sees only level k's batches, which is exactly what a fresh instance
evaluated on that level alone sees. Copies share the weights (no memory, no time per weight) and nothing else; a
copy that writes into the shared weights or buffers would reach the others, so :class:`WeightsGuard` refuses an
evaluation during which any of them changed (version counters count every in-place write, even one undone later).

What this cannot reach is state outside the instance (globals, class attributes, files): plugins are trusted
Python, and the spot check of :mod:`avbench.execution.contract` compares one batch of one level with a fresh
instance's honest evaluation computed before anything else ran.
"""
from __future__ import annotations

import copy
import itertools
from typing import Any

import torch

from avbench.errors import UserError


class StateError(UserError):
    """A model changed its weights or buffers during evaluation."""


def _tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    return list(itertools.chain(model.parameters(), model.buffers()))


def fresh_copy(model: torch.nn.Module) -> Any:
    """A new instance of ``model``: its own Python state (a deep copy of every attribute) on the same weight and
    buffer tensors (shared, not copied)."""
    memo: dict[int, Any] = {id(t): t for t in _tensors(model)}
    return copy.deepcopy(model, memo)


class WeightsGuard:
    """Remembers the version counter of every weight and buffer of a model; :meth:`check` refuses when one moved."""

    def __init__(self, model: torch.nn.Module, label: str) -> None:
        self.label = label
        self.tensors = [t for t in _tensors(model) if not t.is_inference()]  # inference tensors keep no counter
        self.versions = [t._version for t in self.tensors]

    def check(self) -> None:
        if any(t._version != v for t, v in zip(self.tensors, self.versions, strict=True)):
            raise StateError(f"model {self.label!r} wrote into its weights or buffers during evaluation (state "
                             "carried from one level or batch to the next); refused")
