"""A run directory read back: its settings, its per-condition scores and its ranked summary, finished or not.

``avbench show``, the run's ``report.html`` and ``avbench compare`` all start here. A finished run is read from the
files it wrote (``results.csv``, ``summary.csv``, ``run.json``); an unfinished one is scored from the predictions
that are already complete, with the same scoring functions the runner uses, so "what is done" is shown exactly as
the finished run will show it.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from avbench.provenance import read_run_info


@dataclass
class RunView:
    """What a run directory holds, in the runner's own terms."""

    directory: Path
    info: dict[str, Any]  # run.json
    labels: list[str]
    seeds: list[int]
    corruptions: list[Any]  # avbench.corruptions.Corruption, in run order
    rows: pd.DataFrame  # tidy per-condition rows (results.csv columns), ``seed`` as text
    summary: pd.DataFrame  # summary.csv columns
    done: list[tuple[str, str]]  # (label, corruption) pairs scored
    expected: int  # (label, corruption) pairs the run will score

    @property
    def complete(self) -> bool:
        return self.info.get("status") == "complete"

    @property
    def bootstrap(self) -> int:
        return int(self.info.get("bootstrap", self.info.get("spec", {}).get("bootstrap", 1000)))

    @property
    def boot_seed(self) -> int:
        """The runner seeds the bootstrap with the mask seed (``bootstrap_seed`` in run.json)."""
        return int(self.info.get("bootstrap_seed", self.info.get("spec", {}).get("mask_seed", 0)))

    @property
    def dataset(self) -> str:
        return str(self.info.get("dataset", self.info.get("spec", {}).get("dataset", "")))

    def task_of(self, label: str) -> str | None:
        found = self.rows[self.rows["model"] == label]["task"]
        return str(found.iloc[0]) if len(found) else None


def _grid(info: dict[str, Any]) -> tuple[list[str], list[int], list[str]]:
    """(labels, seeds, corruption names) from a finished run's provenance or an unfinished run's spec."""
    from avbench.training import TrainSpec

    if info.get("status") == "complete":
        return list(info["models"]), [int(s) for s in info["seeds"]], list(info["corruptions"])
    spec = info.get("spec", {})
    labels = [TrainSpec(m, overrides=dict(spec.get("overrides") or {})).label for m in spec.get("models", [])]
    return labels, [int(s) for s in spec.get("seeds", [])], list(spec.get("corruptions", []))


def open_run(directory: Path) -> RunView:
    """Read a run directory; an unfinished run is scored from its complete predictions (nothing done: empty)."""
    from avbench.corruptions.configured import resolve

    directory = Path(directory)
    info = read_run_info(directory)
    labels, seeds, names = _grid(info)
    settings = info.get("corruption_settings") or info.get("spec", {}).get("corruption_settings") or {}
    corruptions = [resolve(name, settings) for name in names]
    expected = len(labels) * len(corruptions)
    if info.get("status") == "complete":
        rows = pd.read_csv(directory / "results.csv", dtype={"seed": str})
        summary = pd.read_csv(directory / "summary.csv", keep_default_na=False)
        done = [(label, c.name) for label in labels for c in corruptions]
        return RunView(directory, info, labels, seeds, corruptions, rows, summary, done, expected)
    return _score_unfinished(directory, info, labels, seeds, corruptions, expected)


def _score_unfinished(directory: Path, info: dict[str, Any], labels: list[str], seeds: list[int],
                      corruptions: list[Any], expected: int) -> RunView:
    from avbench import predictions
    from avbench.datasets import open_dataset
    from avbench.summary import COLUMNS, SUMMARY_COLUMNS, merge_scores, score_run, summary_frame

    spec = info.get("spec", {})
    done = [(label, c.name) for label in labels for c in corruptions
            if seeds and all(predictions.is_complete(predictions.path(directory, label, s, c.name), len(c.levels))
                             for s in seeds)]
    view = RunView(directory, info, labels, seeds, corruptions, pd.DataFrame(columns=COLUMNS),
                   pd.DataFrame(columns=SUMMARY_COLUMNS), done, expected)
    if not done:
        return view
    store = open_dataset(spec.get("dataset", "synthetic"), seed=int(spec.get("dataset_seed", 0)))
    by_name = {c.name: c for c in corruptions}
    scores = merge_scores([score_run(directory, store.name, [label], seeds, [by_name[name]], view.bootstrap,
                                     view.boot_seed) for label, name in done])
    view.rows = scores.rows
    # as summary.csv reads back (blank cells as ''), so a finished and an unfinished run print alike
    view.summary = pd.read_csv(io.StringIO(summary_frame(scores).to_csv(index=False)), keep_default_na=False)
    return view
