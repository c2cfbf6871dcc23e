"""Finding the runs a report needs under ``--results``, running the missing ones, and reading their numbers.

``--results`` may be one run directory or a root holding many (found through their ``run.json``, two levels
deep). A report's number for model × corruption comes from the first complete run, in path order, that
evaluated that model label under that corruption with at least the needed seeds on the same dataset and config.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.rundir import predictions
from avbench.errors import UserError
from avbench.rundir.record import RUN_JSON, find_record
from avbench.reports.needs import Need
from avbench.output.tables import Num
from avbench.data.datasets import EMBEDDED, looks_like_path


@dataclass(frozen=True)
class RunInfo:
    path: Path
    dataset: str
    config: str
    labels: tuple[str, ...]
    corruptions: tuple[str, ...]
    seeds: tuple[int, ...]
    split: str = "test"


def _read(path: Path) -> RunInfo | None:
    info = find_record(path)
    if info is None or not info.complete:
        return None
    return RunInfo(path, str(info.dataset), str(info.config), tuple(info.models or ()), tuple(info.corruptions or {}),
                   tuple(info.seeds or ()), info.split)


def discover(results: Path) -> list[RunInfo]:
    """Complete runs at ``results`` itself or up to two directory levels below it, in path order."""
    if not results.exists():
        return []
    candidates = [results, *sorted(results.glob("*")), *sorted(results.glob("*/*"))]
    return [r for r in (_read(p) for p in candidates if (p / RUN_JSON).is_file()) if r is not None]


def dataset_name(dataset: str) -> str:
    """The name a run records for a dataset argument: embedded names as is, a store path by its meta.json."""

    if dataset in EMBEDDED or not looks_like_path(dataset):
        return dataset
    try:
        return str(json.loads((Path(dataset).expanduser() / "meta.json").read_text())["name"])
    except (OSError, ValueError, KeyError):
        raise UserError(f"dataset path {dataset} holds no feature store (meta.json missing)") from None


def locate(runs: Sequence[RunInfo], need: Need) -> tuple[dict[tuple[str, str], Path], list[tuple[str, str]]]:
    """Which run provides each (label, corruption) of ``need``, and which pairs no run provides."""
    dataset = dataset_name(need.dataset)
    found: dict[tuple[str, str], Path] = {}
    missing = []
    for label in need.labels:
        for corruption in need.corruptions:
            run = next((r for r in runs if r.dataset == dataset and r.config == need.config and label in r.labels
                        and corruption in r.corruptions and set(need.seeds) <= set(r.seeds)
                        and r.split == need.split), None)
            if run is None:
                missing.append((label, corruption))
            else:
                found[(label, corruption)] = run.path
    return found, missing


@lru_cache(maxsize=64)
def _results_csv(path: Path, mtime: float) -> pd.DataFrame:
    frame = pd.read_csv(path / "results.csv", dtype={"seed": str, "level": str, "model": str})
    return frame[frame["seed"] == "mean"]


class ResultSet:
    """The numbers of every located (label, corruption): seed-mean rows of results.csv and per-clip predictions."""

    def __init__(self, located: dict[tuple[str, str], Path]) -> None:
        self.located = located

    def run_of(self, label: str, corruption: str) -> Path:
        try:
            return self.located[(label, corruption)]
        except KeyError:
            raise UserError(f"no run provides {label} under {corruption}") from None

    def frame(self, label: str, corruption: str, metric: str) -> pd.DataFrame:
        """Seed-mean rows of one model × corruption × metric, one per level, sorted by x (stable for ties)."""
        path = self.run_of(label, corruption)
        df = _results_csv(path, (path / "results.csv").stat().st_mtime)
        rows = df[(df["model"] == label) & (df["corruption"] == corruption) & (df["metric"] == metric)]
        if rows.empty:
            raise UserError(f"{path}/results.csv has no {metric} for {label} under {corruption}")
        return rows.sort_values("x", kind="stable")

    def num(self, label: str, corruption: str, level: str | None, metric: str, digits: int = 3) -> Num:
        """One condition's seed-mean value with its interval; ``level=None`` is the clean (smallest x) level."""
        rows = self.frame(label, corruption, metric)
        row = rows.iloc[0] if level is None else rows[rows["level"] == level]
        if not isinstance(row, pd.Series):
            if row.empty:
                raise UserError(f"{label} under {corruption} has no level {level!r}")
            row = row.iloc[0]
        return Num(float(row["value"]), float(row["ci_low"]), float(row["ci_high"]), digits=digits)

    def predictions(self, label: str, seed: int, corruption: str) -> dict[str, Any]:
        return predictions.load(predictions.path(self.run_of(label, corruption), label, seed, corruption))

    def level_outputs(self, label: str, seeds: Sequence[int], corruption: str, level: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(targets, outputs) of one level for every seed: the runs of the 5 seeds × 5 subsets protocol."""
        runs = []
        for seed in seeds:
            data = self.predictions(label, seed, corruption)
            index = [str(v) for v in data["levels"]].index(level)
            runs.append((np.asarray(data["targets"], np.float64), np.asarray(data["outputs"][index], np.float64)))
        return runs
