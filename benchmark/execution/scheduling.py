"""The order a run hands its units to the workers: the longest first, as measured by the last run.

Units are independent, so their order changes no number, only how long the run takes. With the work split over a
few workers, a long unit started last leaves the other workers idle until it ends (a warm default run lost ~3 s
of 25 that way when VAVL came last). Each finished run therefore records how many seconds every model took to
evaluate (``unit-seconds.json`` in the avbench cache, per dataset and configuration; evaluation is what every run
repeats, training is cached), and the next run submits the models in decreasing order of that time; models never
timed go first, as they may be the longest. The record is a hint about this machine, not a result: an unreadable
one is ignored and rewritten.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from avbench.atomic import write_json
from avbench.cache import cache_dir

FILE = "unit-seconds.json"


def _path() -> Path:
    return cache_dir() / FILE


def _key(dataset: str, config: str, label: str) -> str:
    return f"{dataset}|{config}|{label}"


def _read() -> dict[str, float]:
    try:
        record = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {str(k): float(v) for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def longest_first(labels: Sequence[str], dataset: str, config: str) -> list[str]:
    """``labels`` in decreasing order of their recorded seconds (never timed first; ties keep their order)."""
    seconds = _read()
    known = {label: seconds.get(_key(dataset, config, label)) for label in labels}
    return sorted(labels, key=lambda label: -(known[label] if known[label] is not None else float("inf")))


def record(seconds: Mapping[str, float], dataset: str, config: str) -> None:
    """Remember each model's evaluation seconds (all its seeds and corruptions in this run) for the next run."""
    merged: dict[str, Any] = {**_read(), **{_key(dataset, config, label): round(float(s), 3)
                                           for label, s in seconds.items()}}
    try:
        write_json(_path(), merged)
    except OSError:
        pass  # a hint, not a result: a read-only or full cache keeps the old order and the run its results
