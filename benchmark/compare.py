"""``avbench compare RUN_A RUN_B``: did a change help under loss, and is it significant?

Two runs of the same protocol — same dataset (fingerprint), same corruption levels, identical masks — score the
same clips under the same masks, and scoring both with the same bootstrap seed resamples the same clips in both.
The difference B − A of a model's score is therefore paired, per level and for the robustness summary: its 95 %
interval is the percentile interval of the resampled differences and its p-value the matching two-sided bootstrap
p (:func:`avbench.stats._paired_summary`), Holm-corrected across the levels of a corruption. Runs that differ in
protocol are refused with the reason, because a "difference" between them would mix the change with the protocol.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.errors import UserError, unknown
from avbench.run_view import RunView, open_run
from avbench.summary_table import as_number
from avbench.tables import Cell, Num, Table

CONFIDENCE = 0.95
COLUMNS = ["model_a", "model_b", "task", "corruption", "level", "x", "metric", "a", "b", "difference", "ci_low",
           "ci_high", "p", "p_holm"]


@dataclass
class Comparison:
    """One model pair under one corruption: per-level rows (:data:`COLUMNS`) and the summary differences."""

    model_a: str
    model_b: str
    task: str
    corruption: Any
    levels: pd.DataFrame
    summary: list[list[Cell]]


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
    from avbench.results import load_predictions
    from avbench.units import prediction_path

    return load_predictions(prediction_path(view.directory, label, view.seeds[0], corruption))


def protocol_problem(a: RunView, b: RunView, chosen: list[tuple[str, str]]) -> str | None:
    """Why the two runs cannot be compared, or None: unfinished, other dataset, other levels, other masks."""
    for view in (a, b):
        if not view.complete:
            return f"{view.directory} is unfinished (run the same `avbench run` command again to finish it)"
    if a.info.get("dataset_fingerprint") != b.info.get("dataset_fingerprint"):
        return (f"different datasets: fingerprint {a.info.get('dataset_fingerprint')} ({a.dataset}) vs "
                f"{b.info.get('dataset_fingerprint')} ({b.dataset})")
    shared = [c for c in a.corruptions if c.name in {d.name for d in b.corruptions}]
    if not shared:
        return (f"no corruption in common ({', '.join(c.name for c in a.corruptions)} vs "
                f"{', '.join(c.name for c in b.corruptions)})")
    for corruption in shared:
        levels_a, levels_b = a.info["corruptions"][corruption.name], b.info["corruptions"][corruption.name]
        if levels_a != levels_b:
            return f"{corruption.name} has other levels: {', '.join(levels_a)} vs {', '.join(levels_b)}"
        for label_a, label_b in chosen:
            pa, pb = _predictions(a, label_a, corruption.name), _predictions(b, label_b, corruption.name)
            if not np.array_equal(pa["clip_ids"], pb["clip_ids"]):
                return f"other test clips under {corruption.name}"
            if not np.array_equal(pa["mask_digests"], pb["mask_digests"]):
                return (f"other masks under {corruption.name} (mask seed {a.info.get('mask_seed')} vs "
                        f"{b.info.get('mask_seed')})")
    return None


def _scores(view: RunView, label: str, corruption: Any, n_resamples: int, boot_seed: int
            ) -> tuple[pd.DataFrame, np.ndarray]:
    """Seed-mean primary-metric rows of one model × corruption and its (L, B) resample distribution."""
    from avbench.datasets import open_dataset
    from avbench.results import PRIMARY, tidy_rows

    store = open_dataset(view.info["dataset"], seed=int(view.info.get("dataset_seed", 0)))
    rows, distributions = tidy_rows(view.directory, store, [label], view.seeds, [corruption], n_resamples, boot_seed)
    task = str(rows["task"].iloc[0])
    means = rows[(rows["seed"] == "mean") & (rows["metric"] == PRIMARY[task])].reset_index(drop=True)
    return means, distributions[(label, corruption.name)]


def _ranking_score(corruption: Any, x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """What ``summary.csv`` ranks by: the mean over the conditions of a categorical corruption, else the area."""
    from avbench.robustness import curve_area

    return values.mean(axis=0) if corruption.categorical else curve_area(x, values)


def compare_pair(a: RunView, b: RunView, label_a: str, label_b: str, corruption: Any) -> Comparison:
    from avbench.stats import _paired_summary, holm

    n_resamples, boot_seed = a.bootstrap, a.boot_seed  # both runs resampled alike: the differences are paired
    rows_a, dist_a = _scores(a, label_a, corruption, n_resamples, boot_seed)
    rows_b, dist_b = _scores(b, label_b, corruption, n_resamples, boot_seed)
    task, metric = str(rows_a["task"].iloc[0]), str(rows_a["metric"].iloc[0])
    tests = [_paired_summary(vb - va, dist_b[i] - dist_a[i], CONFIDENCE)
             for i, (va, vb) in enumerate(zip(rows_a["value"], rows_b["value"]))]
    adjusted = holm(np.asarray([t[3] for t in tests]))
    levels = pd.DataFrame([{
        "model_a": label_a, "model_b": label_b, "task": task, "corruption": corruption.name, "level": ra.level,
        "x": ra.x, "metric": metric, "a": ra.value, "b": rb.value, "difference": d, "ci_low": lo, "ci_high": hi,
        "p": p, "p_holm": float(ph)} for ra, rb, (d, lo, hi, p), ph in
        zip(rows_a.itertuples(), rows_b.itertuples(), tests, adjusted)], columns=COLUMNS)
    x = rows_a["x"].to_numpy()
    score_a, score_b = (_ranking_score(corruption, x, r["value"].to_numpy()) for r in (rows_a, rows_b))
    d, lo, hi, p = _paired_summary(float(score_b - score_a), _ranking_score(corruption, x, dist_b)
                                   - _ranking_score(corruption, x, dist_a), CONFIDENCE)
    summary_a, summary_b = (_summary_row(view, label, task, corruption.name) for view, label in
                            ((a, label_a), (b, label_b)))
    score = "mean over conditions" if corruption.categorical else "AUC"
    summary: list[list[Cell]] = [[score, Num(float(score_a)), Num(float(score_b)), Num(d, lo, hi), _p(p)]]
    for key, title in (("clean", "clean"), ("relative_robustness", "relative robustness"),
                       ("effective_robustness", "effective robustness"), ("worst", "worst level")):
        va, vb = as_number(summary_a.get(key)), as_number(summary_b.get(key))
        summary.append([title, Num(va), Num(vb), Num(None if va is None or vb is None else vb - va), "–"])
    return Comparison(label_a, label_b, task, corruption, levels, summary)


def _summary_row(view: RunView, label: str, task: str, corruption: str) -> dict[str, Any]:
    rows = view.summary[(view.summary["model"] == label) & (view.summary["task"] == task)
                        & (view.summary["corruption"] == corruption)]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _p(p: float) -> Cell:
    return "<0.001" if p < 0.001 else Num(p)


def level_table(comparison: Comparison, a: RunView, b: RunView) -> Table:
    rows: list[list[Cell]] = []
    for r in comparison.levels.itertuples():
        marker = "*" if r.p_holm < 1 - CONFIDENCE else ""
        rows.append([comparison.corruption.condition(r.level), f"{r.x:g}", Num(r.a), Num(r.b),
                     Num(r.difference, r.ci_low, r.ci_high, marker), _p(r.p), _p(r.p_holm)])
    title = (f"{comparison.corruption.name} · {comparison.task} · {comparison.levels['metric'].iloc[0]}: "
             f"B {comparison.model_b} ({b.directory}) − A {comparison.model_a} ({a.directory})")
    return Table(title, ["level", "x", "A", "B", "B − A (95 % CI)", "p", "p (Holm)"], rows,
                 ["Paired bootstrap over the same clips and masks; * = Holm-corrected p < 0.05 across the levels."])


def summary_table(comparison: Comparison) -> Table:
    return Table(f"{comparison.corruption.name} · {comparison.task} · robustness summary, B − A",
                 ["summary", "A", "B", "B − A (95 % CI)", "p"], comparison.summary,
                 ["The ranking score's difference is paired-bootstrapped; the other rows are the runs' summary.csv "
                  "numbers."])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def plot_difference(comparison: Comparison, path: Path) -> Path:
    """B − A against the level with its 95 % band, a line at zero and significant levels filled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avbench.atomic import write_with

    levels = comparison.levels.sort_values("x", kind="stable")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.axhline(0.0, color="#666", linewidth=1)
    ax.fill_between(levels["x"], levels["ci_low"], levels["ci_high"], alpha=0.2, color="#1f77b4", label="95 % CI")
    ax.plot(levels["x"], levels["difference"], marker="o", color="#1f77b4", markerfacecolor="white",
            label=f"{comparison.model_b} (B) − {comparison.model_a} (A)")
    significant = levels[levels["p_holm"] < 1 - CONFIDENCE]
    ax.plot(significant["x"], significant["difference"], "o", color="#1f77b4", label="Holm p < 0.05")
    ticks = sorted(set(levels["x"]))
    ax.set_xticks(ticks)
    ax.set_xticklabels([comparison.corruption.condition(levels[levels["x"] == t]["level"].iloc[0])
                        if comparison.corruption.categorical else f"{t:.3g}" for t in ticks], fontsize=8)
    ax.set_xlabel(comparison.corruption.x_label)
    ax.set_ylabel(f"Δ {levels['metric'].iloc[0]} (B − A)")
    ax.set_title(f"{comparison.corruption.name}: {comparison.model_b} (B) − {comparison.model_a} (A)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    write_with(path, lambda p: fig.savefig(p, format="png", dpi=130, metadata={"Software": None}))
    plt.close(fig)
    return path


def compare_runs(run_a: Path, run_b: Path, models: str | None) -> tuple[RunView, RunView, list[Comparison]]:
    """Check the protocol, then compare every chosen model pair under every shared corruption."""
    a, b = open_run(run_a), open_run(run_b)
    chosen = pairs(a, b, models)
    problem = protocol_problem(a, b, chosen)
    if problem:
        raise UserError(f"cannot compare {run_a} and {run_b}: {problem}")
    shared = [c for c in a.corruptions if c.name in {d.name for d in b.corruptions}]
    return a, b, [compare_pair(a, b, la, lb, c) for la, lb in chosen for c in shared]


def write_outputs(comparisons: list[Comparison], out: Path) -> list[Path]:
    """``compare.csv`` (every level of every pair) and one difference plot per pair × corruption."""
    from avbench.atomic import write_text

    out.mkdir(parents=True, exist_ok=True)
    frame = pd.concat([c.levels for c in comparisons], ignore_index=True)
    written = [out / "compare.csv"]
    write_text(written[0], frame.to_csv(index=False))
    for c in comparisons:
        name = _slug(f"{c.model_a}-vs-{c.model_b}-{c.corruption.name}") + ".png"
        written.append(plot_difference(c, out / name))
    return written
