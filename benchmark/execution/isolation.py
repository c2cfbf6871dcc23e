"""Levels that no state can link: every corruption level is evaluated by its own instance of the model.

Evaluation runs every level on each batch of clean clips (the folded frontend is computed once per batch), so a
single model object would see a clean clip at one level and the same clip with frames lost at the next. A model
that keeps anything between calls — a cache of its inputs, a counter, a buffer it writes — could carry the clean
content into the lossy level, even on the honest path. So evaluation makes one fresh copy (:class:`FreshCopies`) of
the model per level before the first batch: level k's copy sees only level k's batches, which is exactly what a
fresh instance evaluated on that level alone sees. Copies share the weights (no memory, no time per weight) and nothing else; a
copy that writes into the shared weights or buffers would reach the others, so :class:`WeightsGuard` refuses an
evaluation during which any of them changed (version counters count every in-place write, even one undone later).

What this cannot reach is state outside the instance (globals, class attributes, files): plugins are trusted
Python, and the spot check of :mod:`avbench.execution.contract` compares one batch of one level with a fresh
instance's honest evaluation computed before anything else ran.
"""
from __future__ import annotations

import copy
import io
import itertools
import pickle
from typing import Any

import torch

from avbench.errors import UserError


class StateError(UserError):
    """A model changed its weights or buffers during evaluation."""


def _tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    return list(itertools.chain(model.parameters(), model.buffers()))


class _SharedTensors(pickle.Pickler):
    """Pickles a model with its weights and buffers by reference (their index), everything else by value."""

    def __init__(self, file: io.BytesIO, table: dict[int, int]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.table = table

    def persistent_id(self, obj: Any) -> int | None:
        return self.table.get(id(obj)) if isinstance(obj, torch.Tensor) else None


class _WithTensors(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, tensors: list[torch.Tensor]) -> None:
        super().__init__(file)
        self.tensors = tensors

    def persistent_load(self, pid: int) -> torch.Tensor:
        return self.tensors[pid]


class FreshCopies:
    """New instances of ``model`` as it is now: each with its own Python state and the same weight and buffer tensors
    (shared, not copied). Calls after this one do not reach the copies, whatever they change in ``model``.

    The state is serialised once and read back per copy — eight times faster than ``copy.deepcopy`` for the tiny
    models, which matters at one copy per level per evaluation. The bytes are made from the object in hand and never
    leave this process (nothing from outside is unpickled); a model that cannot be pickled (a class defined inside a
    function, a lambda) is deep-copied from a pristine copy instead."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.tensors = _tensors(model)
        self.blob: bytes | None = None
        buffer = io.BytesIO()
        try:
            _SharedTensors(buffer, {id(t): i for i, t in enumerate(self.tensors)}).dump(model)
            self.blob = buffer.getvalue()
        except (pickle.PicklingError, AttributeError, TypeError):
            self.pristine = copy.deepcopy(model, self._memo())

    def _memo(self) -> dict[int, Any]:
        return {id(t): t for t in self.tensors}

    def __call__(self) -> Any:
        if self.blob is not None:
            return _WithTensors(io.BytesIO(self.blob), self.tensors).load()
        return copy.deepcopy(self.pristine, self._memo())


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
