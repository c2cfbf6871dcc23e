"""``avbench compare RUN_A RUN_B``, the scoring half: did a change help under loss, and is it significant?

Two runs of the same protocol — same dataset (fingerprint), same corruption levels, identical masks — score the
same clips under the same masks, and scoring both with the same bootstrap seed resamples the same clips in both.
The difference B − A of a model's score is therefore paired, per level and for the robustness summary: its 95 %
interval and p come from the seed-aware paired test (:func:`avbench.scoring.stats.seed_paired_test`: the test set
through the shared resamples, and, with several seeds, retraining through the between-seed variance of each run),
the p Holm-corrected across the levels of a corruption (the family: the levels of one model pair × corruption). The curves and the
robustness summaries come from the one summariser (:mod:`avbench.scoring.summary`), as in ``summary.csv``. Runs that differ in
protocol are refused with the reason, because a "difference" between them would mix the change with the protocol.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.errors import UserError, unknown
from avbench.output.formats import frame_records
from avbench.rundir import predictions
from avbench.rundir.run_view import RunView, open_run
from avbench.scoring.significance import CONFIDENCE
from avbench.scoring.stats import holm, seed_paired_test
from avbench.scoring.summary import as_number, categorical, run_curves, score_run, summarise
from avbench.tasks import get as get_task

COLUMNS = ["model_a", "model_b", "task", "corruption", "level", "x", "metric", "a", "b", "difference", "ci_low",
           "ci_high", "p", "p_holm"]


@dataclass(frozen=True)
class SummaryDifference:
    """One robustness summary of A and B side by side; ``difference`` B − A, with its paired interval and p where the
    summary is the ranking score (the others are set side by side, untested)."""

    title: str
    a: float | None
    b: float | None
    difference: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None


@dataclass
class Comparison:
    """One model pair under one corruption: per-level rows (:data:`COLUMNS`) and the summary differences."""

    model_a: str
    model_b: str
    task: str
    corruption: Any
    levels: pd.DataFrame
    summary: list[SummaryDifference]

    def to_dict(self) -> dict[str, Any]:
        """As plain data (``avbench compare --format json``): the pair, the corruption's name, the per-level rows
        (compare.csv's columns) and the summary differences."""
        return {"model_a": self.model_a, "model_b": self.model_b, "task": self.task,
                "corruption": self.corruption.name, "levels": frame_records(self.levels),
                "summary": [asdict(d) for d in self.summary]}


def pairs(a: RunView, b: RunView, models: str | None) -> list[tuple[str, str]]:
    """``None`` → every label in both runs; ``m`` → m in both; ``x,y`` → x of run A against y of run B."""
    if models is None:
        shared = [label for label in a.labels if label in b.labels]
        if not shared:
            raise UserError(f"{a.directory} and {b.directory} share no model; name two with --models A_MODEL,B_MODEL")
        chosen = [(label, label) for label in shared]
    else:
        names = [n.strip() for n in models.split(",") if n.strip()]
        if len(names) not in (1, 2):
            raise UserError(f"--models takes one model name or two (A_MODEL,B_MODEL), got {models!r}")
        chosen = [(names[0], names[-1])]
    for (label_a, label_b) in chosen:
        for view, label in ((a, label_a), (b, label_b)):
            if label not in view.labels:
                raise unknown(f"model of {view.directory}", label, view.labels)
        if a.task_of(label_a) != b.task_of(label_b):
            raise UserError(f"{label_a} ({a.task_of(label_a)}) and {label_b} ({b.task_of(label_b)}) "
                            "run different tasks")
    return chosen


def _predictions(view: RunView, label: str, corruption: str) -> dict[str, np.ndarray]:
    return predictions.load(predictions.path(view.directory, label, view.seeds[0], corruption))


def protocol_problem(a: RunView, b: RunView, chosen: list[tuple[str, str]]) -> str | None:
    """Why the two runs cannot be compared, or None: unfinished, other dataset, other levels, other masks."""
    for view in (a, b):
        if not view.complete:
            return f"{view.directory} is unfinished (run the same `avbench run` command again to finish it)"
    if a.info.dataset_fingerprint != b.info.dataset_fingerprint:
        return (f"different datasets: fingerprint {a.info.dataset_fingerprint} ({a.dataset}) vs "
                f"{b.info.dataset_fingerprint} ({b.dataset})")
    shared = [c for c in a.corruptions if c.name in {d.name for d in b.corruptions}]
    if not shared:
        return (f"no corruption in common ({', '.join(c.name for c in a.corruptions)} vs "
                f"{', '.join(c.name for c in b.corruptions)})")
    for corruption in shared:
        levels_a, levels_b = (a.info.corruptions or {})[corruption.name], (b.info.corruptions or {})[corruption.name]
        if levels_a != levels_b:
            return f"{corruption.name} has other levels: {', '.join(levels_a)} vs {', '.join(levels_b)}"
        for label_a, label_b in chosen:
            pa, pb = _predictions(a, label_a, corruption.name), _predictions(b, label_b, corruption.name)
            if not np.array_equal(pa["clip_ids"], pb["clip_ids"]):
                return f"other test clips under {corruption.name}"
            if not np.array_equal(pa["mask_digests"], pb["mask_digests"]):
                return (f"other masks under {corruption.name} (mask seed {a.info.mask_seed} vs "
                        f"{b.info.mask_seed})")
    return None


def _curve(view: RunView, label: str, corruption: Any, n_resamples: int, boot_seed: int, name: str
           ) -> tuple[Any, str]:
    """One model's primary-metric curve under one corruption, scored by the summariser, renamed ``name`` so that
    the same label in both runs gives two curves; and its task."""
    scores = score_run(view.directory, view.dataset, [label], view.seeds, [corruption], n_resamples, boot_seed)
    task = str(scores.rows["task"].iloc[0])
    (curve,) = run_curves(scores, task, corruption.name)
    curve.model = name
    return curve, task


def compare_pair(a: RunView, b: RunView, label_a: str, label_b: str, corruption: Any) -> Comparison:
    n_resamples, boot_seed = a.bootstrap, a.boot_seed  # both runs resampled alike: the differences are paired
    curve_a, task = _curve(a, label_a, corruption, n_resamples, boot_seed, "A")
    curve_b, _ = _curve(b, label_b, corruption, n_resamples, boot_seed, "B")
    metric = get_task(task).primary
    tests = [seed_paired_test(curve_b.distributions[pb.level], curve_a.distributions[pa.level],  # type: ignore[index]
                              curve_b.seed_values[pb.level], curve_a.seed_values[pa.level], CONFIDENCE)  # type: ignore[index]
             for pa, pb in zip(curve_a.points, curve_b.points)]
    adjusted = holm([t[3] for t in tests])
    levels = pd.DataFrame([{
        "model_a": label_a, "model_b": label_b, "task": task, "corruption": corruption.name, "level": pa.level,
        "x": pa.x, "metric": metric, "a": pa.value, "b": pb.value, "difference": d, "ci_low": lo, "ci_high": hi,
        "p": p, "p_holm": float(ph)} for pa, pb, (d, lo, hi, p), ph in
        zip(curve_a.points, curve_b.points, tests, adjusted)], columns=COLUMNS)
    sa, sb = summarise([curve_a, curve_b], metric, corruption.name, categorical(corruption.name), None)
    shared = ", ".join(corruption.condition(label) for label in sa.compared_over)
    summary: list[SummaryDifference] = []
    if sa.score is not None and sb.score is not None and sa.distribution is not None and sb.distribution is not None:
        d, lo, hi, p = seed_paired_test(sb.distribution, sa.distribution, sb.seed_scores, sa.seed_scores, CONFIDENCE)
        title = f"mean over {shared}" if sa.compared_over else "AUC"
        summary.append(SummaryDifference(title, sa.score, sb.score, d, lo, hi, p))
    effective_a, effective_b = (as_number(_summary_row(view, label, task, corruption.name).get("effective_robustness"))
                                for view, label in ((a, label_a), (b, label_b)))
    for title, va, vb in (("clean", sa.clean and sa.clean.value, sb.clean and sb.clean.value),
                          ("relative robustness", sa.relative, sb.relative),
                          ("effective robustness (vs the run's baseline)", effective_a, effective_b),
                          ("worst level", sa.worst and sa.worst.value, sb.worst and sb.worst.value)):
        summary.append(SummaryDifference(title, va, vb, None if va is None or vb is None else vb - va))
    return Comparison(label_a, label_b, task, corruption, levels, summary)


def _summary_row(view: RunView, label: str, task: str, corruption: str) -> dict[str, Any]:
    rows = view.summary[(view.summary["model"] == label) & (view.summary["task"] == task)
                        & (view.summary["corruption"] == corruption)]
    return rows.iloc[0].to_dict() if len(rows) else {}


def compare_runs(run_a: Path, run_b: Path, models: str | None) -> tuple[RunView, RunView, list[Comparison]]:
    """Check the protocol, then compare every chosen model pair under every shared corruption."""
    a, b = open_run(run_a), open_run(run_b)
    chosen = pairs(a, b, models)
    problem = protocol_problem(a, b, chosen)
    if problem:
        raise UserError(f"cannot compare {run_a} and {run_b}: {problem}")
    shared = [c for c in a.corruptions if c.name in {d.name for d in b.corruptions}]
    return a, b, [compare_pair(a, b, la, lb, c) for la, lb in chosen for c in shared]
