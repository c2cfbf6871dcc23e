"""From saved per-clip predictions to the tidy results table, the robustness summary and the plots.

Nothing here runs a model: every number is recomputed from ``predictions/*.npz``, which is what lets a run be
rescored (or a leaderboard submission verified) later. Bootstrap resamples use the same seed for every model, so
all models are resampled on the same clips and comparisons between them are paired.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from avbench.atomic import write_text, write_with
from avbench.metrics import CCC_MEAN, MACRO_F1, attribute_scores, classification_scores, flatten_scores
from avbench.robustness import curve_area, relative_robustness
from avbench.stats import bootstrap_distribution, ccc_distribution, holm, intervals
from avbench.store import FeatureStore
from avbench.units import prediction_path

COLUMNS = ["model", "seed", "dataset", "task", "corruption", "level", "x", "params", "metric", "value", "ci_low",
           "ci_high", "n"]
SUMMARY_COLUMNS = ["model", "task", "corruption", "metric", "clean", "auc", "relative_robustness",
                   "effective_robustness", "worst", "worst_level", "brier", "rank", "p_holm", "sig"]
PRIMARY = {"emotion": MACRO_F1, "attributes": CCC_MEAN}
ALPHA = 0.05


def load_predictions(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def level_scores(task: str, targets: np.ndarray, outputs: np.ndarray, names: Sequence[str], n_resamples: int,
                 seed: int) -> tuple[dict[str, tuple[float, float, float]], np.ndarray]:
    """Every metric of one condition with its percentile interval (flat metric names), and the primary metric on
    each of the B resamples — paired across models through the shared seed. One bootstrap serves both."""
    if task == "emotion":
        point = classification_scores(targets, outputs)
        distribution = bootstrap_distribution(targets, outputs, n_resamples=n_resamples, seed=seed)
        flat = flatten_scores(intervals(point, distribution), names)
    else:
        point = attribute_scores(targets, outputs, tuple(names))
        distribution = ccc_distribution(targets, outputs, n_resamples=n_resamples, seed=seed, names=tuple(names))
        flat = intervals(point, distribution)
    triples = {key: (float(v), float(lo), float(hi)) for key, (v, lo, hi) in flat.items()}
    return triples, distribution[PRIMARY[task]]


def seed_mean(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> tuple[float, float, float]:
    """Across seeds: the mean with a t interval (or the single seed's bootstrap interval)."""
    if len(values) == 1:
        return float(values[0]), float(lows[0]), float(highs[0])
    mean, sem = float(np.mean(values)), float(scipy_stats.sem(values))
    half = float(scipy_stats.t.ppf(0.975, len(values) - 1) * sem)
    return mean, mean - half, mean + half


def tidy_rows(out: Path, store: FeatureStore, labels: Sequence[str], seeds: Sequence[int], corruptions: Sequence[Any],
              n_resamples: int, boot_seed: int) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Per-seed rows plus seed-mean rows; also each model × corruption's (L, B) primary-metric distribution."""
    rows: list[dict[str, Any]] = []
    distributions: dict[tuple[str, str], np.ndarray] = {}
    for label in labels:
        for corruption in corruptions:
            per_seed: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            seed_dists = []
            for seed in seeds:
                data = load_predictions(prediction_path(out, label, seed, corruption.name))
                task, names = str(data["task"]), [str(n) for n in data["names"]]
                dists = []
                for li, level in enumerate(corruption.levels):
                    scores, dist = level_scores(task, data["targets"], data["outputs"][li], names, n_resamples,
                                                boot_seed)
                    dists.append(dist)
                    for metric, (value, low, high) in scores.items():
                        per_seed.setdefault((level.label, metric), []).append((value, low, high))
                        rows.append(_row(label, str(seed), store.name, task, corruption.name, level, metric,
                                         (value, low, high), len(data["clip_ids"])))
                seed_dists.append(np.stack(dists))
            distributions[(label, corruption.name)] = np.mean(seed_dists, axis=0)
            for level in corruption.levels:
                for (lvl, metric), triples in per_seed.items():
                    if lvl != level.label:
                        continue
                    arr = np.asarray(triples)
                    rows.append(_row(label, "mean", store.name, task, corruption.name, level, metric,
                                     seed_mean(arr[:, 0], arr[:, 1], arr[:, 2]), len(seeds)))
    return pd.DataFrame(rows, columns=COLUMNS), distributions


def _row(model: str, seed: str, dataset: str, task: str, corruption: str, level: Any, metric: str,
         triple: tuple[float, float, float], n: int) -> dict[str, Any]:
    value, low, high = triple
    return {"model": model, "seed": seed, "dataset": dataset, "task": task, "corruption": corruption,
            "level": level.label, "x": float(level.x), "params": json.dumps(level.params, sort_keys=True),
            "metric": metric, "value": value, "ci_low": low, "ci_high": high, "n": n}


def summarise(df: pd.DataFrame, distributions: dict[tuple[str, str], np.ndarray],
              baseline: dict[str, str], categorical: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Robustness summary per model × task × corruption, ranked by area, with Holm-corrected paired tests.

    For a categorical corruption (which modality is missing) the "area" is the plain mean over its conditions,
    since its levels are not points on an axis.
    """
    means = df[df["seed"] == "mean"]
    out_rows = []
    for (task, corruption), group in means.groupby(["task", "corruption"], sort=False):
        metric = PRIMARY[task]
        curves = {}
        for model, g in group[group["metric"] == metric].groupby("model", sort=False):
            curves[model] = (g["x"].to_numpy(), g["value"].to_numpy(), g["level"].to_numpy())
        area = (lambda x, y: y.mean(axis=0)) if corruption in categorical else curve_area
        areas = {m: float(area(x, y)) for m, (x, y, _) in curves.items()}
        best = max(areas, key=lambda m: (areas[m], m))
        others = [m for m in curves if m != best]
        p_raw = []
        for model in others:
            x = curves[model][0]
            diff = area(x, distributions[(best, corruption)]) - area(x, distributions[(model, corruption)])
            p_raw.append(min(1.0, 2.0 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0)))))
        p_adj = dict(zip(others, holm(np.asarray(p_raw)) if p_raw else []))
        base = baseline.get(task)
        ranked = sorted(curves, key=lambda m: (-areas[m], m))
        for rank, model in enumerate(ranked, start=1):
            x, y, levels = curves[model]
            clean = float(y[np.argmin(x)])
            brier = group[(group["model"] == model) & (group["metric"] == "brier")]
            eff: float | str = ""
            if base in curves and model != base:  # avbench.robustness.effective_robustness, on tied-x curves
                bx, by, _ = curves[base]
                eff = (areas[model] - clean) - (areas[base] - float(by[np.argmin(bx)]))
            p = p_adj.get(model)
            out_rows.append({
                "model": model, "task": task, "corruption": corruption, "metric": metric, "clean": clean,
                "auc": areas[model],
                "relative_robustness": relative_robustness(areas[model], clean) if clean else float("nan"),
                "effective_robustness": eff, "worst": float(y.min()), "worst_level": str(levels[int(np.argmin(y))]),
                "brier": float(brier[brier["x"] == brier["x"].min()]["value"].iloc[0]) if len(brier) else "",
                "rank": rank, "p_holm": "" if p is None else float(p),
                "sig": "" if p is None or p >= ALPHA else "*",
            })
    return pd.DataFrame(out_rows, columns=SUMMARY_COLUMNS)


def write_results(out: Path, store: FeatureStore, labels: Sequence[str], seeds: Sequence[int],
                  corruptions: Sequence[Any], n_resamples: int, boot_seed: int, baseline: dict[str, str]) -> None:
    """Write results.csv/.parquet, summary.csv and plots/ — each file atomically."""
    from avbench.plots import plot_curves

    df, distributions = tidy_rows(out, store, labels, seeds, corruptions, n_resamples, boot_seed)
    write_text(out / "results.csv", df.to_csv(index=False))
    write_with(out / "results.parquet", lambda p: df.to_parquet(p, index=False))
    summary = summarise(df, distributions, baseline, frozenset(c.name for c in corruptions if c.categorical))
    write_text(out / "summary.csv", summary.to_csv(index=False))
    plot_curves(df, out / "plots")

