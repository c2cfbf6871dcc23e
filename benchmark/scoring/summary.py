"""The one summariser: predictions → per-condition scores → robustness summaries, paired tests and ranks.

Every table that ranks models calls this module — ``summary.csv`` and the table ``avbench run`` prints, the
entries ``avbench submit`` writes, the leaderboard boards and the reports — so they cannot disagree.

* **Per-condition scores** (:func:`score_run`): every metric of every model × seed × corruption × level from the
  saved predictions, with its clip-bootstrap interval; ``seed = mean`` rows give the seed mean with a t interval
  over seeds. The bootstrap uses one seed for every model, so all models are resampled on the same clips.
* **Robustness summaries and ranks** (:func:`summarise`), on the task's primary metric: for a sweep, the area
  under the metric-vs-level curve (levels sharing an x averaged first), relative and effective robustness
  (:mod:`avbench.scoring.robustness`) and the worst level; models are ranked by the area.
* **Categorical corruptions** (``modality``: which modality is missing) have no axis. Each model is summarised
  over the conditions that *apply* to it (:meth:`avbench.corruptions.Corruption.applies`: the clean condition and
  the loss of a modality it uses — losing one it never reads changes nothing), and models are *compared* — ranked,
  tested, measured against the baseline — on the mean over the **shared** conditions: those that apply to every
  ranked model (``compared_over`` in ``summary.csv``; for audio-visual models with SER and FER on the board that is
  the clean condition alone, for audio-visual models alone clean + no audio + no video).
* **Tests, rank intervals and groups** (:mod:`avbench.scoring.ranking`): every two ranked models are compared
  with the seed-aware paired test (:func:`avbench.scoring.stats.seed_paired_test`: the ranking score per seed on
  the shared clip resamples, so it carries retraining as well as the test set), all pairs as one Holm family;
  the star against the top model, its difference interval, each model's 95 % rank interval and the groups of
  models not significantly apart all come from those adjusted p-values. Rows without paired resamples (reported
  numbers) are compared by a normal approximation from their intervals (unpaired, conservative).
* **One seed** covers the test set only. Given the between-seed spread known for an architecture (from
  multi-seed verified entries), a gap to the top that retraining alone would produce 5 % of the time or more is
  marked ``within_noise``.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from avbench.models import format_label, label_training, model_modalities, split_training
from avbench.rundir import predictions
from avbench.scoring.metrics import higher_is_better
from avbench.scoring.ranking import Contender, rank_all
from avbench.scoring.robustness import curve_area, effective_gap, relative_robustness
from avbench.scoring.significance import significant, star
from avbench.scoring.stats import holm, seed_interval
from avbench.scoring.training_effects import Effect, area_scores, has_protocols, paired_effect
from avbench.tasks import get as get_task
from avbench.corruptions import REGISTRY

COLUMNS = ["model", "seed", "dataset", "task", "corruption", "level", "x", "params", "metric", "value", "ci_low",
           "ci_high", "n"]
SUMMARY_COLUMNS = ["model", "task", "corruption", "metric", "clean", "auc", "relative_robustness",
                   "effective_robustness", "worst", "worst_level", "brier", "rank", "p_holm", "sig", "score",
                   "compared_over", "seeds", "score_low", "score_high", "difference", "diff_low", "diff_high",
                   "rank_low", "rank_high", "p_improve", "group", "retraining_noise", "within_noise"]
# Between-seed SD of the ranking score per model label, for one-seed runs: (dataset, task, corruption, labels) →
# {label: SD}; avbench.leaderboards.spread reads it from the verified multi-seed entries.
SpreadLookup = Callable[[str, str, str, Sequence[str]], Mapping[str, float]]
# added to summary.csv when a run trained under training protocols (``--protocols``): each row's architecture and
# protocol, and the protocol effect (auc under the protocol minus under ``clean``, same architecture) with its
# seed-aware interval, p and Holm-corrected p across the architectures of one task × corruption × protocol
TRAINING_COLUMNS = ["architecture", "training", "training_effect", "training_effect_low", "training_effect_high",
                    "training_p", "training_p_holm", "training_sig"]
EFFECT_CONTROL = "clean"  # the protocol every training effect is measured against
# scipy.special, not scipy.stats (~0.6 s to import, on every run's start): norm.ppf is ndtri, t.ppf is stdtrit,
# norm.sf(x) is ndtr(-x), in scipy.stats as here
_Z95 = float(special.ndtri(0.975))


# -- per-condition scores ------------------------------------------------------------------------------------------
@dataclass
class RunScores:
    """Tidy per-condition rows (:data:`COLUMNS`) and, per (label, corruption), the primary metric's (S, L, B)
    resample distributions: seed s at level l on clip resample b (the same resamples for every model and seed), which
    every paired difference (rankings, training effects) reads seed by seed."""

    rows: pd.DataFrame
    distributions: dict[tuple[str, str], np.ndarray]
    boot_seed: int = 0  # the seed of the clip and seed resamples (the run's mask seed)


def seed_mean(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> tuple[float, float, float]:
    """Across seeds: the mean with a t interval (or the single seed's bootstrap interval)."""
    if len(values) == 1:
        return float(values[0]), float(lows[0]), float(highs[0])
    mean, sem = float(np.mean(values)), float(np.std(values, ddof=1) / len(values) ** 0.5)
    half = float(special.stdtrit(len(values) - 1, 0.975) * sem)
    return mean, mean - half, mean + half


def score_run(run_dir: Path, dataset: str, labels: Sequence[str], seeds: Sequence[int], corruptions: Sequence[Any],
              n_resamples: int, boot_seed: int) -> RunScores:
    """Every metric of every condition from ``predictions/``: per-seed rows, then seed-mean rows."""
    rows: list[dict[str, Any]] = []
    distributions: dict[tuple[str, str], np.ndarray] = {}
    for label in labels:
        for corruption in corruptions:
            per_seed: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            seed_dists = []
            for seed in seeds:
                data = predictions.load(predictions.path(run_dir, label, seed, corruption.name))
                task_name, names = str(data["task"]), [str(n) for n in data["names"]]
                task = get_task(task_name)
                dists = []
                for li, level in enumerate(corruption.levels):
                    scores, dist = task.condition_scores(data["targets"], data["outputs"][li], names, n_resamples,
                                                         boot_seed)
                    dists.append(dist)
                    for metric, triple in scores.items():
                        per_seed.setdefault((level.label, metric), []).append(triple)
                        rows.append(_row(label, str(seed), dataset, task_name, corruption.name, level, metric,
                                         triple, len(data["clip_ids"])))
                seed_dists.append(np.stack(dists))
            distributions[(label, corruption.name)] = np.stack(seed_dists)
            for level in corruption.levels:
                for (lvl, metric), triples in per_seed.items():
                    if lvl != level.label:
                        continue
                    arr = np.asarray(triples)
                    rows.append(_row(label, "mean", dataset, task_name, corruption.name, level, metric,
                                     seed_mean(arr[:, 0], arr[:, 1], arr[:, 2]), len(seeds)))
    return RunScores(pd.DataFrame(rows, columns=COLUMNS), distributions, boot_seed)


def merge_scores(parts: Sequence[RunScores]) -> RunScores:
    """Scores computed piece by piece (a model at a time as a run finishes it, or what an unfinished run has done)
    as one :class:`RunScores`, rows in the order of ``parts``."""
    if not parts:
        return RunScores(pd.DataFrame(columns=COLUMNS), {})
    return RunScores(pd.concat([p.rows for p in parts], ignore_index=True),
                     {key: dist for p in parts for key, dist in p.distributions.items()}, parts[0].boot_seed)


def _row(model: str, seed: str, dataset: str, task: str, corruption: str, level: Any, metric: str,
         triple: tuple[float, float, float], n: int) -> dict[str, Any]:
    value, low, high = triple
    return {"model": model, "seed": seed, "dataset": dataset, "task": task, "corruption": corruption,
            "level": level.label, "x": float(level.x), "params": json.dumps(level.params, sort_keys=True),
            "metric": metric, "value": value, "ci_low": low, "ci_high": high, "n": n}


# -- summaries, tests and ranks ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One condition's value of the ranking metric (with its interval when known)."""

    level: str
    x: float
    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class Curve:
    """One model's points under one corruption, as a run or a leaderboard entry provides them.

    ``distributions`` (level → (S, B) resampled values: seed s on clip resample b; a (B,) array is one seed) and
    ``score_distribution`` ((S, B) resampled ranking scores, for sources that store only that) enable paired tests
    between curves with the same non-None ``pairing`` key (same clips, masks and resamples); ``seed_values``
    (level → (S,) per-seed test-set values) and ``score_seeds`` ((S,) per-seed ranking scores) give the seeds'
    own scores (without them: the point value for one seed). ``protocol`` groups curves measured the same way
    (effective robustness is only taken against a baseline of the same protocol). ``modalities`` decides which
    categorical conditions apply (None: unknown model, every condition applies).
    """

    model: str
    points: list[Point]
    modalities: tuple[str, ...] | None = None
    distributions: dict[str, np.ndarray] | None = None
    score_distribution: np.ndarray | None = None
    pairing: Hashable | None = None
    protocol: Hashable | None = None
    seed_values: dict[str, np.ndarray] | None = None
    score_seeds: np.ndarray | None = None


@dataclass
class Summary:
    """The summary of one curve: what it is ranked by, its robustness numbers, its rank and its test."""

    model: str
    clean: Point | None = None
    score: float | None = None  # what the ranking uses (area; or mean over the shared conditions)
    score_ci: tuple[float, float] | None = None
    auc: float | None = None  # area of a sweep; mean over the model's own conditions for a categorical corruption
    relative: float | None = None
    effective: float | None = None
    worst: Point | None = None
    compared_over: tuple[str, ...] = ()  # categorical: the shared conditions the score averages
    rank: int | None = None
    difference: float | None = None  # score minus the top row's score
    diff_ci: tuple[float, float] | None = None  # its interval at the Holm level: excludes 0 exactly when starred
    p_value: float | None = None
    p_holm: float | None = None
    test: str = ""  # avbench.scoring.ranking: SEED_AWARE, CLIPS_ONLY, FROM_INTERVALS, or "" (untested)
    rank_interval: tuple[int, int] | None = None  # 95 % (all rank intervals of a table hold together)
    p_improve: float | None = None  # P(a run of this model beats a run of the top model), rliable-style
    group: str = ""  # models not significantly below their group's first model share its letter
    retraining_noise: float | None = None  # one seed: gap to the top that retraining alone reaches 5 % of the time
    distribution: np.ndarray | None = field(default=None, repr=False)  # (S, B) resampled ranking scores
    seed_scores: np.ndarray | None = field(default=None, repr=False)  # (S,) per-seed ranking scores

    @property
    def seeds(self) -> int | None:
        """How many training seeds the score averages (None: not known, e.g. a paper's number)."""
        return None if self.seed_scores is None else len(self.seed_scores)

    @property
    def within_noise(self) -> bool:
        """One seed each: is the gap to the top smaller than what retraining alone produces 5 % of the time?"""
        return (self.retraining_noise is not None and self.difference is not None
                and abs(self.difference) < self.retraining_noise)

    @property
    def significant(self) -> bool:
        return significant(self.p_holm)


def categorical(corruption: str) -> bool:
    """Whether a corruption's levels are categories (looked up when needed, never at import time; a name this
    installation does not know, such as a missing plugin's, counts as a sweep)."""

    return corruption in REGISTRY and REGISTRY.get(corruption).categorical


def applies(corruption: str | None, point: Point, modalities: tuple[str, ...] | None) -> bool:
    """Does this condition change anything for the model? The clean condition always does."""
    if point.x == 0.0 or corruption is None:
        return True

    if corruption not in REGISTRY:
        return True
    known = {lv.label: lv for lv in REGISTRY.get(corruption).levels}
    return point.level not in known or REGISTRY.get(corruption).applies(known[point.level], modalities)


def summarise(curves: Sequence[Curve], metric: str, corruption: str | None, is_categorical: bool,
              baseline: str | None, retraining_sd: Mapping[str, float] | None = None) -> list[Summary]:
    """Summaries of ``curves`` (same order), ranked on ``metric``, every pair tested, rank intervals and groups.

    ``corruption`` names the corruption (None for the clean board); ``is_categorical`` selects the categorical
    summary; ``baseline`` is the model effective robustness is measured against; ``retraining_sd`` the known
    between-seed SD of the ranking score per model, for marking one-seed gaps within retraining noise.
    """
    higher = higher_is_better(metric)
    summaries = [Summary(c.model) for c in curves]
    for curve, summary in zip(curves, summaries):
        if curve.points:
            summary.clean = min(curve.points, key=lambda p: p.x)
    if is_categorical:
        _categorical(curves, summaries, corruption, higher)
    else:
        for curve, summary in zip(curves, summaries):
            _sweep(curve, summary, higher)
    _effective(curves, summaries, baseline)
    _rank(curves, summaries, higher)
    _compare_all(curves, summaries, higher, retraining_sd or {})
    return summaries


def _worst(points: Sequence[Point], higher: bool) -> Point:
    values = np.array([p.value for p in points])
    return points[int(np.argmin(values) if higher else np.argmax(values))]


def _per_seed(values: np.ndarray) -> np.ndarray:
    """Resampled scores as (S, B): a (B,) array is one seed's."""
    array = np.asarray(values, dtype=np.float64)
    return array[None] if array.ndim == 1 else array


def _interval(distribution: np.ndarray | None, seed_scores: np.ndarray | None) -> tuple[float, float] | None:
    """The 95 % interval of a ranking score: one seed's percentile clip interval, or the seed-aware t interval
    (:func:`avbench.scoring.stats.seed_interval`) of several seeds' mean."""
    if distribution is None or not distribution.size:
        return None
    _, low, high = seed_interval(distribution, seed_scores if seed_scores is not None
                                 and len(seed_scores) == len(distribution) else None)
    return low, high


def _seed_scores(curve: Curve, labels: Sequence[str], combine: Callable[[np.ndarray], np.ndarray],
                 points: Sequence[Point], n_seeds: int) -> np.ndarray:
    """(S,) per-seed ranking scores: ``combine`` of the per-seed level values ((L, S) → (S,)); one seed without
    them gets the point values."""
    if curve.seed_values is not None and all(label in curve.seed_values for label in labels):
        return combine(np.stack([np.asarray(curve.seed_values[label], np.float64) for label in labels]))
    if n_seeds == 1:
        return combine(np.array([[p.value] for p in points]))
    raise ValueError(f"{curve.model}: {n_seeds} seeds of resamples but no per-seed values")


def _relative(score: float, clean: Point | None) -> float | None:
    return relative_robustness(score, clean.value) if clean is not None and clean.value else None


def _sweep(curve: Curve, summary: Summary, higher: bool) -> None:
    if len(curve.points) < 2:
        return
    x = np.array([p.x for p in curve.points])
    summary.auc = summary.score = float(curve_area(x, np.array([p.value for p in curve.points])))
    summary.relative = _relative(summary.auc, summary.clean)
    summary.worst = _worst(curve.points, higher)
    labels = [p.level for p in curve.points]
    if curve.distributions is not None and all(label in curve.distributions for label in labels):
        summary.distribution = curve_area(x, np.stack([_per_seed(curve.distributions[label]) for label in labels]))
        summary.seed_scores = _seed_scores(curve, labels, lambda v: curve_area(x, v), curve.points,
                                           len(summary.distribution))
    elif curve.score_distribution is not None:
        summary.distribution = _per_seed(curve.score_distribution)
        summary.seed_scores = (np.asarray(curve.score_seeds, np.float64) if curve.score_seeds is not None
                               else np.array([summary.score]) if len(summary.distribution) == 1
                               else summary.distribution.mean(axis=-1))
    summary.score_ci = _interval(summary.distribution, summary.seed_scores)


def _categorical(curves: Sequence[Curve], summaries: list[Summary], corruption: str | None, higher: bool) -> None:
    own = [[p for p in c.points if applies(corruption, p, c.modalities)] for c in curves]
    for points, summary in zip(own, summaries):
        if points:
            summary.auc = float(np.mean([p.value for p in points]))
            summary.relative = _relative(summary.auc, summary.clean)
            summary.worst = _worst(points, higher)
    scored = [points for points in own if points]
    if not scored:
        return
    shared_labels = set.intersection(*({p.level for p in points} for points in scored))
    shared = tuple(p.level for p in sorted(scored[0], key=lambda p: p.x) if p.level in shared_labels)
    if not shared:
        return
    for curve, points, summary in zip(curves, own, summaries):
        if not points:
            continue
        chosen = [next(p for p in points if p.level == label) for label in shared]
        summary.compared_over = shared
        summary.score = float(np.mean([p.value for p in chosen]))
        if curve.distributions is not None and all(label in curve.distributions for label in shared):
            summary.distribution = np.mean([_per_seed(curve.distributions[label]) for label in shared], axis=0)
            summary.seed_scores = _seed_scores(curve, shared, lambda v: v.mean(axis=0), chosen,
                                               len(summary.distribution))
            summary.score_ci = _interval(summary.distribution, summary.seed_scores)
        elif len(chosen) == 1 and chosen[0].ci_low is not None and chosen[0].ci_high is not None:
            summary.score_ci = (chosen[0].ci_low, chosen[0].ci_high)


def _effective(curves: Sequence[Curve], summaries: list[Summary], baseline: str | None) -> None:
    """Effective robustness against the baseline's curve of the same protocol, over the same levels (none when
    the only shared condition is the clean one: there is no loss to compare)."""
    bases = [(c, s) for c, s in zip(curves, summaries) if c.model == baseline and s.score is not None
             and s.clean is not None]
    for curve, summary in zip(curves, summaries):
        if summary.score is None or summary.clean is None or curve.model == baseline \
                or len(summary.compared_over) == 1:
            continue
        for base, base_summary in bases:
            same_levels = [p.level for p in curve.points] == [p.level for p in base.points]
            if base.protocol == curve.protocol and (summary.compared_over or same_levels):
                summary.effective = effective_gap(summary.score, summary.clean.value, base_summary.score,
                                                  base_summary.clean.value)  # type: ignore[arg-type, union-attr]


def _rank(curves: Sequence[Curve], summaries: list[Summary], higher: bool) -> None:
    sign = -1.0 if higher else 1.0
    ranked = sorted((s for s in summaries if s.score is not None), key=lambda s: (sign * s.score, s.model))
    for rank, summary in enumerate(ranked, start=1):
        summary.rank = rank


def _compare_all(curves: Sequence[Curve], summaries: list[Summary], higher: bool,
                 retraining_sd: Mapping[str, float]) -> None:
    """Every pair of ranked rows tested as one Holm family (:func:`avbench.scoring.ranking.rank_all`): the test
    against the top, its interval, rank intervals, groups, P(> top); and, for one-seed rows, the retraining noise."""
    order = sorted((i for i, s in enumerate(summaries) if s.rank is not None), key=lambda i: summaries[i].rank)
    contenders = [Contender(summaries[i].score, summaries[i].distribution, summaries[i].seed_scores,  # type: ignore[arg-type]
                            summaries[i].score_ci, curves[i].pairing) for i in order]
    ranking = rank_all(contenders, higher)
    top = summaries[order[0]] if order else None
    for k, i in enumerate(order):
        row = summaries[i]
        row.rank_interval, row.group, row.p_improve = ranking.rank_intervals[k], ranking.groups[k], \
            ranking.improvement[k]
        if k == 0:
            continue
        row.difference = row.score - top.score  # type: ignore[operator, union-attr]
        tested = ranking.against_top(k)
        if tested is not None:
            pair, row.p_holm, low, high = tested
            row.p_value, row.test, row.diff_ci = pair.p, pair.test, (low, high)
        sds = [retraining_sd.get(top.model), retraining_sd.get(row.model)]  # type: ignore[union-attr]
        if row.seeds == 1 and top.seeds == 1 and None not in sds:  # type: ignore[union-attr]
            row.retraining_noise = _Z95 * math.hypot(*sds)  # type: ignore[arg-type]


# -- summary.csv -----------------------------------------------------------------------------------------------------
def run_curves(scores: RunScores, task: str, corruption: str) -> list[Curve]:
    """The primary-metric curves of one task × corruption of a run, models in results order, with every seed's
    resampled and test-set values per level."""
    rows = scores.rows[(scores.rows["task"] == task) & (scores.rows["corruption"] == corruption)
                       & (scores.rows["metric"] == get_task(task).primary)]
    means, per_seed = rows[rows["seed"] == "mean"], rows[rows["seed"] != "mean"]
    values = {key: g.to_numpy(np.float64) for key, g in per_seed.groupby(["model", "level"], sort=False)["value"]}
    curves = []
    for model, g in means.groupby("model", sort=False):
        points = [Point(str(r.level), float(r.x), float(r.value), float(r.ci_low), float(r.ci_high))
                  for r in g.itertuples(index=False)]
        dist = scores.distributions[(str(model), corruption)]  # (S, L, B), seeds in results order
        seed_values = {p.level: values[(model, p.level)] for p in points}
        curves.append(Curve(str(model), points, model_modalities(str(model)),
                            {p.level: dist[:, i] for i, p in enumerate(points)}, pairing="run",
                            seed_values=seed_values))
    return curves


def by_training(curves: Sequence[Curve]) -> dict[str, list[Curve]]:
    """A run's curves per training protocol (``raver@clean`` → ``clean``), protocols in order of appearance: each
    protocol's models are ranked among themselves, like with like. A run without protocols is one group."""
    groups: dict[str, list[Curve]] = {}
    for curve in curves:
        groups.setdefault(label_training(curve.model), []).append(curve)
    return groups


def summary_frame(scores: RunScores, spread: SpreadLookup | None = None) -> pd.DataFrame:
    """``summary.csv``: one row per model × task × corruption, in rank order within each task × corruption and
    training protocol (models trained under different protocols are ranked separately, each protocol against its
    own baseline's curve).

    ``spread`` gives the known between-seed SD of the ranking score per model, for marking the gaps of a one-seed
    run that retraining alone could produce (``within_noise``)."""
    means = scores.rows[scores.rows["seed"] == "mean"]
    out_rows = []
    for (task, corruption), group in means.groupby(["task", "corruption"], sort=False):
        metric, calibration = get_task(task).primary, get_task(task).calibration
        summaries, baseline = [], get_task(task).baseline
        for training, curves in by_training(run_curves(scores, task, corruption)).items():
            labels = [c.model for c in curves]
            known = spread(str(group["dataset"].iloc[0]), str(task), str(corruption), labels) if spread else {}
            ranked = summarise(curves, metric, corruption, categorical(corruption),
                               format_label(baseline, None, training) if baseline else None, known)
            summaries.extend(sorted(ranked, key=lambda s: (s.rank is None, s.rank or 0, s.model)))
        for summary in summaries:
            brier = group[(group["model"] == summary.model) & (group["metric"] == calibration)]
            p = summary.p_holm
            low_high = summary.score_ci or ("", "")
            diff = summary.diff_ci or ("", "")
            ranks = summary.rank_interval or ("", "")
            out_rows.append({
                "model": summary.model, "task": task, "corruption": corruption, "metric": metric,
                "clean": summary.clean.value if summary.clean else "", "auc": _blank(summary.auc),
                "relative_robustness": _blank(summary.relative), "effective_robustness": _blank(summary.effective),
                "worst": summary.worst.value if summary.worst else "",
                "worst_level": summary.worst.level if summary.worst else "",
                "brier": float(brier[brier["x"] == brier["x"].min()]["value"].iloc[0]) if len(brier) else "",
                "rank": summary.rank if summary.rank is not None else "", "p_holm": _blank(p),
                "sig": star(p), "score": _blank(summary.score),
                "compared_over": "+".join(summary.compared_over),
                "seeds": summary.seeds if summary.seeds is not None else "", "score_low": low_high[0],
                "score_high": low_high[1], "difference": _blank(summary.difference), "diff_low": diff[0],
                "diff_high": diff[1], "rank_low": ranks[0], "rank_high": ranks[1],
                "p_improve": _blank(summary.p_improve), "group": summary.group,
                "retraining_noise": _blank(summary.retraining_noise),
                "within_noise": "yes" if summary.within_noise else "",
            })
    frame = pd.DataFrame(out_rows, columns=SUMMARY_COLUMNS)
    return with_training_effects(frame, scores) if has_protocols(frame["model"]) else frame


def with_training_effects(frame: pd.DataFrame, scores: RunScores) -> pd.DataFrame:
    """``frame`` with :data:`TRAINING_COLUMNS`: every row's architecture and training protocol, and its effect
    against the same architecture trained under ``clean`` (:func:`avbench.scoring.training_effects.paired_effect`;
    blank for ``clean`` itself and where the run did not train the architecture under ``clean``)."""
    out = frame.copy()
    split = [split_training(str(label)) for label in out["model"]]
    out["architecture"] = [architecture for architecture, _ in split]
    out["training"] = [training for _, training in split]
    effects: dict[Any, Effect] = {}
    for index, row in out.iterrows():
        control = format_label(str(row["architecture"]), None, EFFECT_CONTROL)
        key, control_key = (str(row["model"]), str(row["corruption"])), (control, str(row["corruption"]))
        base = out[(out["model"] == control) & (out["task"] == row["task"]) & (out["corruption"] == row["corruption"])]
        if row["training"] == EFFECT_CONTROL or not len(base) or key not in scores.distributions \
                or control_key not in scores.distributions:
            continue
        treated_auc, control_auc = as_number(row["auc"]), as_number(base["auc"].iloc[0])
        if treated_auc is None or control_auc is None:
            continue
        points = _primary_points(scores, key[0], str(row["task"]), key[1])
        summarised = functools.partial(_summary_scores, points=points, corruption=key[1],
                                       modalities=model_modalities(key[0]))
        effects[index] = paired_effect(treated_auc - control_auc, summarised(scores.distributions[key]),
                                       summarised(scores.distributions[control_key]))
    cells: dict[Any, list[object]] = {index: [""] * 6 for index in out.index}
    for _, group in out.loc[list(effects)].groupby(["task", "corruption", "training"], sort=False):
        for index, adjusted in zip(group.index, holm([effects[i].p for i in group.index])):
            e = effects[index]
            cells[index] = [e.value, e.low, e.high, e.p, float(adjusted), star(float(adjusted))]
    for j, column in enumerate(TRAINING_COLUMNS[2:]):
        out[column] = pd.Series([cells[index][j] for index in out.index], index=out.index, dtype=object)
    return out


def _primary_points(scores: RunScores, label: str, task: str, corruption: str) -> list[Point]:
    """The label's seed-mean points of the task's primary metric under ``corruption``, in results order (the order
    of its distributions' level axis)."""
    rows = scores.rows
    means = rows[(rows["seed"] == "mean") & (rows["model"] == label) & (rows["corruption"] == corruption)
                 & (rows["metric"] == get_task(task).primary)]
    return [Point(str(r.level), float(r.x), float(r.value)) for r in means.itertuples(index=False)]


def _summary_scores(per_seed: np.ndarray, points: Sequence[Point], corruption: str,
                    modalities: tuple[str, ...] | None) -> np.ndarray:
    """(S, L, B) resampled level scores → (S, B) resampled summaries, as :func:`summarise` summarises one curve: the
    area over the real level axis for a sweep, the mean over the conditions that apply to the model for a
    categorical corruption (the ``auc`` column)."""
    if categorical(corruption):
        own = [i for i, point in enumerate(points) if applies(corruption, point, modalities)]
        return per_seed[:, own].mean(axis=1)
    return area_scores(per_seed, [p.x for p in points])


def _blank(value: float | None) -> float | str:
    return "" if value is None else float(value)


def as_number(value: object) -> float | None:
    """A summary.csv cell as a float, or None where it is blank or not a number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


def summary_groups(summary: pd.DataFrame) -> list[tuple[tuple[str, str, str | None], pd.DataFrame]]:
    """The ranked groups of ``summary.csv``: (task, corruption, training protocol) and its rows, in file order; the
    protocol is None for a run without training protocols (one ranking per task × corruption)."""
    if "training" not in summary.columns:
        return [((str(task), str(corruption), None), group)
                for (task, corruption), group in summary.groupby(["task", "corruption"], sort=False)]
    return [((str(task), str(corruption), str(training)), group)
            for (task, corruption, training), group in summary.groupby(["task", "corruption", "training"], sort=False)]


def read_summary(run_dir: Path) -> pd.DataFrame:
    """A run's ``summary.csv`` as written (empty cells kept as ''), for the tables that show it."""
    return pd.read_csv(Path(run_dir) / "summary.csv", keep_default_na=False)
