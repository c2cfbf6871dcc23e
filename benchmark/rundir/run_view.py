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

from avbench.models import RECIPE, format_label
from avbench.rundir.record import RunRecord, read_record
from avbench.corruptions.configured import resolve
from avbench.rundir import predictions
from avbench.data.datasets import open_dataset
from avbench.leaderboards.spread import known_spread


@dataclass
class RunView:
    """What a run directory holds, in the runner's own terms."""

    directory: Path
    info: RunRecord  # run.json
    labels: list[str]
    seeds: list[int]
    corruptions: list[Any]  # avbench.corruptions.Corruption, in run order
    rows: pd.DataFrame  # tidy per-condition rows (results.csv columns), ``seed`` as text
    summary: pd.DataFrame  # summary.csv columns
    done: list[tuple[str, str]]  # (label, corruption) pairs scored
    expected: int  # (label, corruption) pairs the run will score

    @property
    def complete(self) -> bool:
        return self.info.complete

    @property
    def bootstrap(self) -> int:
        return self.info.resamples

    @property
    def boot_seed(self) -> int:
        return self.info.boot_seed

    @property
    def dataset(self) -> str:
        return str(self.info.setting("dataset", ""))

    def task_of(self, label: str) -> str | None:
        found = self.rows[self.rows["model"] == label]["task"]
        return str(found.iloc[0]) if len(found) else None


def _grid(info: RunRecord) -> tuple[list[str], list[int], list[str]]:
    """(labels, seeds, corruption names) from a finished run's provenance or an unfinished run's spec."""
    if info.complete:
        return list(info.models or []), list(info.seeds or []), list(info.corruptions or {})
    spec = info.spec
    labels = [format_label(m, dict(spec.get("overrides") or {}), training) for m in spec.get("models", [])
              for training in spec.get("training_protocols") or [RECIPE]]
    return labels, [int(s) for s in spec.get("seeds", [])], list(spec.get("corruptions", []))


def open_run(directory: Path) -> RunView:
    """Read a run directory; an unfinished run is scored from its complete predictions (nothing done: empty)."""
    directory = Path(directory)
    info = read_record(directory)
    labels, seeds, names = _grid(info)
    settings = info.setting("corruption_settings") or {}
    corruptions = [resolve(name, settings) for name in names]
    expected = len(labels) * len(corruptions)
    if info.complete:
        rows = pd.read_csv(directory / "results.csv", dtype={"seed": str})
        summary = pd.read_csv(directory / "summary.csv", keep_default_na=False)
        done = [(label, c.name) for label in labels for c in corruptions]
        return RunView(directory, info, labels, seeds, corruptions, rows, summary, done, expected)
    return _score_unfinished(directory, info, labels, seeds, corruptions, expected)


def _score_unfinished(directory: Path, info: RunRecord, labels: list[str], seeds: list[int],
                      corruptions: list[Any], expected: int) -> RunView:
    from avbench.scoring.summary import COLUMNS, SUMMARY_COLUMNS, merge_scores, score_run, summary_frame  # deferred: scipy

    spec = info.spec
    done = [(label, c.name) for label in labels for c in corruptions
            if seeds and all(predictions.is_complete(predictions.path(directory, label, s, c.name), len(c.levels))
                             for s in seeds)]
    view = RunView(directory, info, labels, seeds, corruptions, pd.DataFrame(columns=COLUMNS),
                   pd.DataFrame(columns=SUMMARY_COLUMNS), done, expected)
    if not done:
        return view
    # only its name is read: a store directory's content is not hashed for that
    store = open_dataset(spec.get("dataset", "synthetic"), seed=int(spec.get("dataset_seed", 0)), verify=False)
    by_name = {c.name: c for c in corruptions}
    scores = merge_scores([score_run(directory, store.name, [label], seeds, [by_name[name]], view.bootstrap,
                                     view.boot_seed) for label, name in done])
    view.rows = scores.rows
    # as summary.csv reads back (blank cells as ''), so a finished and an unfinished run print alike
    view.summary = pd.read_csv(io.StringIO(summary_frame(scores, known_spread).to_csv(index=False)),
                               keep_default_na=False)
    return view
