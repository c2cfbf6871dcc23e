"""A run for the Python API: ``avbench.run(...)`` makes one and ``avbench.open_run(path)`` opens one, as a
:class:`Run` whose tables are pandas DataFrames.

>>> import avbench
>>> run = avbench.run(models=["ser", "late-fusion"], corruptions=["markov"])   # or avbench.run(RunSpec(...))
>>> run.summary          # one row per model × task × corruption: clean score, AUC, robustness, rank, p
>>> run.results          # one tidy row per model × seed × condition × metric, with its interval
>>> run.predictions      # one row per model × seed × condition × clip: the outputs and the targets
>>> run.report()         # RUN_DIR/report.html

``avbench show RUN_DIR --format json`` prints :meth:`Run.to_dict`, so the command line and the API use the same
field names. A :class:`Run` is built around the :class:`~avbench.rundir.run_view.RunView` that ``avbench show``,
``compare`` and the report read, and hands any other attribute through to it (``run.info``, ``run.rows``, …), so
code written against ``open_run``'s earlier return value keeps working.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.output.formats import frame_records
from avbench.rundir import predictions as prediction_files
from avbench.rundir.record import RunRecord
from avbench.rundir.run_view import RunView
from avbench.rundir.run_view import open_run as open_view

__all__ = ["Run", "open_run", "run"]


class Run:
    """A run directory, finished or not (unfinished: what is done so far, scored as the finished run will be)."""

    def __init__(self, view: RunView) -> None:
        self.view = view
        self._predictions: pd.DataFrame | None = None

    def __repr__(self) -> str:
        state = "finished" if self.complete else f"unfinished, {len(self.done)} of {self.expected} done"
        return f"Run({str(self.directory)!r}, {state}, models={self.models}, seeds={self.seeds})"

    def __str__(self) -> str:
        """The directory, as ``str(path)`` gives it (``repr`` describes the run)."""
        return str(self.directory)

    def __fspath__(self) -> str:
        """A Run stands for its directory wherever a path is expected (``Path(run) / "results.csv"``)."""
        return str(self.directory)

    def __truediv__(self, name: str) -> Path:
        """``run / "results.csv"``: a file of the run's directory, as with the path ``avbench.run`` used to return."""
        return self.directory / name

    def __getattr__(self, name: str) -> Any:
        if name == "view":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.view, name)

    # -- what the run is ---------------------------------------------------------------------------------------------
    @property
    def directory(self) -> Path:
        return self.view.directory

    @property
    def record(self) -> RunRecord:
        """``run.json``, typed (:class:`~avbench.rundir.record.RunRecord`)."""
        return self.view.info

    @property
    def complete(self) -> bool:
        return self.view.complete

    @property
    def dataset(self) -> str:
        return self.view.dataset

    @property
    def models(self) -> list[str]:
        """The model labels (``raver``, ``raver[n_ctx=16]``) in run order."""
        return list(self.view.labels)

    @property
    def seeds(self) -> list[int]:
        return list(self.view.seeds)

    @property
    def corruptions(self) -> list[str]:
        return [c.name for c in self.view.corruptions]

    @property
    def done(self) -> list[tuple[str, str]]:
        """The (model, corruption) pairs scored so far."""
        return list(self.view.done)

    @property
    def expected(self) -> int:
        return self.view.expected

    # -- its tables --------------------------------------------------------------------------------------------------
    @property
    def summary(self) -> pd.DataFrame:
        """``summary.csv``: per model × task × corruption, the clean score, area under the curve, relative and
        effective robustness, worst level, Brier, rank, Holm-corrected p against the top model and the ranking
        score."""
        return self.view.summary

    @property
    def results(self) -> pd.DataFrame:
        """``results.csv``: one row per model × seed × dataset × task × corruption × level × metric, with its 95 %
        interval (``seed`` is text: the seeds, and ``mean`` over them)."""
        return self.view.rows

    @property
    def predictions(self) -> pd.DataFrame:
        """Every per-clip prediction the run has made: one row per model × seed × corruption × level × clip, with
        ``output_<name>`` (a probability per emotion, or an attribute value) and ``target_<name>`` (vote share or
        rating) columns. Read from the predictions files on first use."""
        if self._predictions is None:
            self._predictions = predictions_frame(self.directory, self.models, self.seeds, self.view.corruptions)
        return self._predictions

    def report(self) -> Path:
        """Write (or rewrite) ``report.html`` — tables, curves, per-class scores, provenance — and return its path."""
        from avbench.output.run_report import write_report  # deferred: matplotlib

        return write_report(self.directory)

    def plots(self) -> list[Path]:
        """Draw, into ``RUN_DIR/plots/``, each model's rank with its 95 % rank interval per task × corruption
        (``ranks-<corruption>-<task>.png``, from the run's summary: :mod:`avbench.scoring.ranking`) and the per-class
        scores on the clean test set (``per-class-<task>.png``); return their paths. Drawn with seaborn, which only
        this imports."""
        from avbench.output.run_report import per_class_tables  # deferred: matplotlib
        from avbench.output.seaborn_figures import per_class_heatmaps, rank_plots  # deferred: seaborn, scipy

        directory = self.directory / "plots"
        directory.mkdir(parents=True, exist_ok=True)
        written = rank_plots(self.summary, directory) if len(self.summary) else []
        return written + per_class_heatmaps(per_class_tables(self.view), directory)

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (what ``avbench show --format json`` prints): its settings and the summary rows."""
        return {"directory": str(self.directory), "complete": self.complete, "dataset": self.dataset,
                "models": self.models, "seeds": self.seeds, "corruptions": self.corruptions,
                "done": [list(pair) for pair in self.done], "expected": self.expected,
                "summary": frame_records(self.summary)}


def predictions_frame(directory: Path, labels: list[str], seeds: list[int], corruptions: list[Any]) -> pd.DataFrame:
    """The complete predictions files of a run as one long table (see :attr:`Run.predictions`)."""
    frames = []
    for label in labels:
        for seed in seeds:
            for corruption in corruptions:
                source = prediction_files.path(directory, label, seed, corruption.name)
                if not prediction_files.is_complete(source, len(corruption.levels)):
                    continue
                data = prediction_files.load(source)
                frames.append(_long(data, label, seed, corruption.name))
    if not frames:
        return pd.DataFrame(columns=["model", "seed", "task", "corruption", "level", "x", "clip_id"])
    return pd.concat(frames, ignore_index=True)


def _long(data: dict[str, np.ndarray], label: str, seed: int, corruption: str) -> pd.DataFrame:
    """One predictions file: levels × clips rows."""
    names = [str(n) for n in np.atleast_1d(data["names"])]
    levels = [str(v) for v in np.atleast_1d(data["levels"])]
    clips = np.asarray(data["clip_ids"]).astype(str)
    outputs = np.asarray(data["outputs"], dtype=np.float64)  # (levels, clips, outputs)
    n_levels, n_clips = outputs.shape[:2]
    frame = pd.DataFrame({
        "model": label, "seed": seed, "task": str(data["task"]), "corruption": corruption,
        "level": np.repeat(levels, n_clips), "x": np.repeat(np.asarray(data["x"], np.float64), n_clips),
        "clip_id": np.tile(clips, n_levels),
    })
    targets = np.tile(np.asarray(data["targets"], dtype=np.float64), (n_levels, 1))
    for k, name in enumerate(names):
        frame[f"output_{name}"] = outputs[:, :, k].reshape(-1)
    for k, name in enumerate(names):
        frame[f"target_{name}"] = targets[:, k]
    return frame


def open_run(directory: str | Path | Run) -> Run:
    """An existing run directory, finished or not."""
    return Run(open_view(Path(directory)))


def run(spec: Any = None, /, *, progress: bool = True, console: Any = None, **settings: Any) -> Run:
    """Run a grid and return it as a :class:`Run`. Pass a :class:`~avbench.runner.RunSpec`, or its fields as
    keywords (``avbench.run(models=["raver"], corruptions=["markov"], seeds=[0, 1])``). The command line's checks
    and warnings apply: a bad setting is a :class:`~avbench.errors.UserError` before anything is written."""
    from avbench.runner import RunSpec  # deferred: torch
    from avbench.runner import run as run_grid  # deferred: torch

    if spec is None:
        spec = RunSpec(**{"models": ["all"], "corruptions": ["markov"], **settings})
    elif settings:
        spec = dataclasses.replace(spec, **settings)
    return open_run(run_grid(spec, progress=progress, console=console))
