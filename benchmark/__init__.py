"""avbench: a robustness benchmark for audio-visual and audio-text emotion recognition under missing data.

The library's entry points are named here and imported on first use (``import avbench`` stays light, as the
command line needs): :func:`run`, :func:`open_run` and the :class:`Run` they return (:mod:`avbench.rundir.api`),
:class:`RunSpec` (:mod:`avbench.runner`) and :func:`evaluate` (:mod:`avbench.execution.evaluation`).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_ENTRY_POINTS = {"run": "avbench.rundir.api", "open_run": "avbench.rundir.api", "Run": "avbench.rundir.api",
                 "RunSpec": "avbench.runner", "evaluate": "avbench.execution.evaluation"}
__all__ = ["__version__", *_ENTRY_POINTS]


def __getattr__(name: str) -> Any:
    """``avbench.run`` and friends, imported when first used (deferred: torch, pandas)."""
    if name in _ENTRY_POINTS:
        return getattr(importlib.import_module(_ENTRY_POINTS[name]), name)
    raise AttributeError(f"module 'avbench' has no attribute {name!r}")
