"""Architecture or training? The audio-visual models under every training protocol, and the README section that
answers the RAVER question from it.

RAVER's paper credits "this fusion of dropout and summarization" for its effectiveness at 95 % loss, but trains
only RAVER (and AuxFormer) with modality dropout, so its tables mix architecture and training. Here every
audio-visual model is trained under every registered training protocol (:mod:`avbench.protocols`) and evaluated
under RAVER's random masking (Fig. 3) and Markov packet loss, and the report asks:

* how much of RAVER's margin at 90–99 % loss over the best other model, both trained with their own recipes,
  remains when neither is trained with modality dropout (``clean``), and what it is when both are
  (``modality-dropout``);
* how much every other model gains from modality dropout (``modality-dropout`` minus ``clean``).

Every difference is paired (same clips, masks and clip resamples; seed s against seed s) and its interval and p
come from :func:`avbench.scoring.training_effects.paired_effect`, over seeds and clips.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbench.corruptions import get as get_corruption
from avbench.models import format_label
from avbench.protocols import ORDER
from avbench.output.tables import Cell, Num, Table, bold_best, to_markdown
from avbench.output.training_table import training_table, training_grids
from avbench.reports.base import Context, Need, Report, Settings
from avbench.reports.layout import DISPLAY
from avbench.rundir.record import read_record
from avbench.scoring.metrics import MACRO_F1, display
from avbench.scoring.significance import ALPHA, CONFIDENCE, STAR, format_p, level_text, significant, star
from avbench.scoring.stats import holm, seed_interval
from avbench.scoring.summary import EFFECT_CONTROL as CONTROL
from avbench.scoring.summary import read_summary, score_run
from avbench.scoring.training_effects import Effect, paired_effect, window_scores

MODELS = ("raver", "auxformer", "mult", "vavl", "sfav", "tlstm", "late-fusion")  # RAVER Table 2 + the baseline
PROTOCOLS = ORDER  # the five built-in protocols, in their order
RANDOM = ("random-audio", "random-video")  # RAVER Fig. 3: where 90–99 % loss is swept
CORRUPTIONS = (*RANDOM, "markov")
EXTREME = (90.0, 99.0)  # "90–99 % loss": the levels RAVER's Fig. 3 sweeps in 1 % steps
FOCUS, DROPOUT = "raver", "modality-dropout"
METRIC = MACRO_F1
SOURCE = "avbench (RAVER §IV-D2's training question)"


def _needs(settings: Settings, seeds: tuple[int, ...]) -> list[Need]:
    return [Need(MODELS, CORRUPTIONS, seeds, dataset=settings.dataset, config=settings.config, protocols=PROTOCOLS)]


@dataclass
class Extremes:
    """Every model × protocol's macro-F1 at 90–99 % loss: the point (seed-mean), the per-seed points (S,) and the
    (S, B) resamples."""

    points: dict[tuple[str, str], float]
    seed_points: dict[tuple[str, str], np.ndarray]
    resamples: dict[tuple[str, str], np.ndarray]

    def interval(self, model: str, protocol: str) -> tuple[float, float]:
        """The seed-aware interval of every ranked score (:func:`avbench.scoring.stats.seed_interval`)."""
        _, low, high = seed_interval(self.resamples[(model, protocol)], self.seed_points[(model, protocol)],
                                     CONFIDENCE)
        return low, high

    def num(self, model: str, protocol: str) -> Num:
        return Num(self.points[(model, protocol)], *self.interval(model, protocol))

    def effect(self, a: tuple[str, str], b: tuple[str, str]) -> Effect:
        """``a`` minus ``b`` (model, protocol), paired over seeds and clips."""
        return paired_effect(self.points[a] - self.points[b], self.resamples[a], self.resamples[b])


def _extremes(ctx: Context) -> Extremes:
    """Macro-F1 averaged over the levels of 90–99 % of RAVER's two random-masking curves (audio masked, video
    masked), per model and protocol, rescored from the run's predictions with its bootstrap settings (once per
    run as written: the table and the README section share it)."""
    run = ctx.results.run_of(FOCUS, RANDOM[0])
    return _rescored(run, (run / "results.csv").stat().st_mtime_ns, tuple(ctx.seeds), MODELS, PROTOCOLS)


@functools.lru_cache(maxsize=4)
def _rescored(run: Path, stamp: int, seeds: tuple[int, ...], models: tuple[str, ...],
              protocols: tuple[str, ...]) -> Extremes:
    record = read_record(run)
    corruptions = [get_corruption(name) for name in RANDOM]
    labels = {(model, protocol): format_label(model, None, protocol) for model in models for protocol in protocols}
    scores = score_run(run, str(record.dataset), list(labels.values()), list(seeds), corruptions, record.resamples,
                       record.boot_seed)
    rows = scores.rows[scores.rows["metric"] == METRIC]
    means = rows[rows["seed"] == "mean"]
    points: dict[tuple[str, str], float] = {}
    seed_points: dict[tuple[str, str], np.ndarray] = {}
    resamples: dict[tuple[str, str], np.ndarray] = {}
    for key, label in labels.items():
        per_corruption, per_seed, draws = [], [], []
        for corruption in corruptions:
            mine = means[(means["model"] == label) & (means["corruption"] == corruption.name)]
            x = mine["x"].to_numpy(dtype=float)
            chosen = (x >= EXTREME[0]) & (x <= EXTREME[1])
            per_corruption.append(float(mine["value"].to_numpy(dtype=float)[chosen].mean()))
            seeded = rows[(rows["model"] == label) & (rows["corruption"] == corruption.name) & (rows["seed"] != "mean")]
            per_seed.append([float(g["value"].to_numpy(dtype=float)[chosen].mean())
                             for _, g in seeded.groupby("seed", sort=False)])  # levels in the order of x
            draws.append(window_scores(scores.distributions[(label, corruption.name)], x, *EXTREME))
        points[key] = float(np.mean(per_corruption))
        seed_points[key] = np.mean(per_seed, axis=0)
        resamples[key] = np.mean(draws, axis=0)
    return Extremes(points, seed_points, resamples)


def _best_other(extremes: Extremes, protocol: str) -> str:
    """The other model with the highest macro-F1 at 90–99 % loss under ``protocol`` (by its point estimate)."""
    return max((m for m in MODELS if m != FOCUS), key=lambda m: extremes.points[(m, protocol)])


def _dropout_gains(extremes: Extremes) -> dict[str, tuple[Effect, float]]:
    """Per model: modality-dropout minus clean at 90–99 % loss, with its Holm-corrected p across the models."""
    effects = {m: extremes.effect((m, DROPOUT), (m, CONTROL)) for m in MODELS}
    adjusted = holm([e.p for e in effects.values()])
    return {m: (e, float(p)) for (m, e), p in zip(effects.items(), adjusted)}


def _name(model: str) -> str:
    return DISPLAY.get(model, model)


def _effect_num(effect: Effect, p_holm: float | None = None) -> Num:
    return Num(effect.value, effect.low, effect.high, star(p_holm if p_holm is not None else effect.p))


def build_table(ctx: Context) -> Table:
    """Macro-F1 at 90–99 % loss of every model under every protocol, and what modality dropout changes."""
    extremes = _extremes(ctx)
    return _extremes_table(ctx, extremes, _dropout_gains(extremes))


def _extremes_table(ctx: Context, extremes: Extremes, gains: dict[str, tuple[Effect, float]]) -> Table:
    rows: list[list[Cell]] = []
    for model in MODELS:
        effect, p_holm = gains[model]
        rows.append([_name(model), *(extremes.num(model, p) for p in PROTOCOLS), _effect_num(effect, p_holm)])
    for j in range(1, len(PROTOCOLS) + 1):
        bold_best(rows, j)
    return Table(f"Macro-F1 at {EXTREME[0]:.0f}–{EXTREME[1]:.0f} % loss by training protocol "
                 "(mean over RAVER's random-audio and random-video levels)",
                 ["Model", *PROTOCOLS, f"Δ {DROPOUT} − {CONTROL}"], rows, [*ctx.notes, *_notes(ctx)])


def _notes(ctx: Context) -> list[str]:
    return [
        f"Each cell: macro-F1 averaged over the levels {EXTREME[0]:.0f}–{EXTREME[1]:.0f} % of random-audio and "
        "random-video (RAVER Fig. 3), seed mean with a 95 % interval over seeds and test clips; best per protocol "
        "in bold.",
        f"Δ: paired over seeds and clips (same masks and resamples); {STAR} = significant at {level_text()} after "
        "Holm correction across the models.",
        f"Reproduced by avbench on {ctx.settings.dataset!r} ({ctx.settings.config} config, {len(ctx.seeds)} "
        "seed(s)); the limits of this evidence are stated with the README section this report writes.",
    ]


def _margin_table(extremes: Extremes) -> tuple[Table, dict[str, Effect]]:
    """RAVER against the best other model trained the same way, per protocol."""
    rows: list[list[Cell]] = []
    margins: dict[str, Effect] = {}
    for protocol in PROTOCOLS:
        other = _best_other(extremes, protocol)
        margins[protocol] = extremes.effect((FOCUS, protocol), (other, protocol))
        rows.append([protocol, _name(other), extremes.num(other, protocol), extremes.num(FOCUS, protocol),
                     _effect_num(margins[protocol]), format_p(margins[protocol].p)])
    return Table(f"RAVER's margin at {EXTREME[0]:.0f}–{EXTREME[1]:.0f} % loss over the best other model trained "
                 "the same way", ["training", "best other model", "its macro-F1", "RAVER", "margin", "p"], rows,
                 [f"margin: RAVER minus the best other model (chosen by its point estimate) under the same protocol, "
                  f"paired over seeds and clips; {STAR} = p < {ALPHA:g} (one test per protocol)."]), margins


def _recipe_sentence(extremes: Extremes, margins: dict[str, Effect]) -> str:
    recipe, clean, dropout = margins["recipe"], margins[CONTROL], margins[DROPOUT]
    other = _name(_best_other(extremes, "recipe"))
    if recipe.value > 0 and significant(recipe.p):
        share = f"{clean.value / recipe.value:.0%} of its recipe margin remains without modality dropout"
    else:
        share = ("under their recipes RAVER has no significant margin here, so there is no advantage for its "
                 "modality dropout to explain")
    return (f"At {EXTREME[0]:.0f}–{EXTREME[1]:.0f} % loss, RAVER trained with its own recipe (modality dropout "
            f"20/20/60) scores {extremes.points[(FOCUS, 'recipe')]:.3f} macro-F1, "
            f"{recipe.value:+.3f} ({recipe.low:+.3f}, {recipe.high:+.3f}) against the best other model under its "
            f"own recipe ({other}). Trained without modality dropout (`clean`) it scores "
            f"{extremes.points[(FOCUS, CONTROL)]:.3f}, {clean.value:+.3f} ({clean.low:+.3f}, {clean.high:+.3f}) "
            f"against the best other clean-trained model ({_name(_best_other(extremes, CONTROL))}): {share}. With "
            f"modality dropout for every model (`{DROPOUT}`) its margin is {dropout.value:+.3f} ({dropout.low:+.3f}, "
            f"{dropout.high:+.3f}).")


def _gain_sentence(gains: dict[str, tuple[Effect, float]]) -> str:
    others = {m: g for m, g in gains.items() if m != FOCUS}
    values = [e.value for e, _ in others.values()]
    better = [_name(m) for m, (e, p) in others.items() if e.value > 0 and significant(p)]
    worse = [_name(m) for m, (e, p) in others.items() if e.value < 0 and significant(p)]
    raver, raver_p = gains[FOCUS]
    listing = (f"significantly better for {', '.join(better)}" if better else "significantly better for none") + \
        (f", significantly worse for {', '.join(worse)}" if worse else "")
    return (f"Modality dropout (`{DROPOUT}` minus `{CONTROL}`, same architecture) changes the other {len(others)} "
            f"models' macro-F1 at this loss by {np.mean(values):+.3f} on average (from {min(values):+.3f} to "
            f"{max(values):+.3f}; {listing}, Holm-corrected), and RAVER's by {raver.value:+.3f} "
            f"({raver.low:+.3f}, {raver.high:+.3f}, Holm p {format_p(raver_p)}).")


def _limits(ctx: Context, epochs: object, run_name: str) -> str:
    seeds = len(ctx.seeds)
    seed_text = ("one training seed: the intervals cover the test clips only, and a protocol difference of one "
                 "architecture confounds the protocol with that one training run's luck; `--seeds 3` or more "
                 "adds the between-seed variance to every interval" if seeds == 1 else
                 f"{seeds} training seeds: the intervals resample seeds and clips together, so they cover the "
                 "between-seed variance of training; with so few seeds that part is itself uncertain")
    return "\n".join([
        "**Limits of this evidence.**",
        "",
        f"* Synthetic corpus: the tiny configurations trained for {epochs} on the embedded `{ctx.settings.dataset}` "
        "corpus, whose emotion evidence sits where its generator put it (`avbench datasets realism` compares it "
        "with real features). The numbers say how these architectures and trainings behave under loss on this "
        "corpus, not what they would score on CREMA-D or MSP-IMPROV, and not which mechanism RAVER's published "
        "margin comes from there.",
        f"* {seed_text[0].upper()}{seed_text[1:]}.",
        "* The best other model is chosen by its point estimate, which flatters it slightly; the margins test "
        "RAVER against that one model.",
        "* `frame-loss` and `markov-loss` draw their training level uniformly from the evaluation sweep of "
        "`random-all` and `markov`, so their matched evaluation is multi-condition training on the test "
        "distribution of levels; `modality-dropout` is RAVER's 20/20/60 for every model with two modalities.",
        f"* Run: `{run_name}`; a protocol changes training only (same development-split selection, same test "
        "masks), and two protocols that train a model identically share one checkpoint (\"same weights\").",
    ])


def readme_section(ctx: Context) -> str:
    """The README section: what was run, the RAVER question in two sentences and two tables, the architecture vs
    training tables of every corruption, and the limits of the evidence beside the numbers."""
    extremes = _extremes(ctx)
    gains = _dropout_gains(extremes)
    margins_table, margins = _margin_table(extremes)
    run = ctx.results.run_of(FOCUS, RANDOM[0])
    record = read_record(run)
    epochs = f"{record.epochs} epoch(s) each" if record.epochs else "their recipes' epochs"
    summary = read_summary(run)
    hashes = record.checkpoint_hashes or {}
    grids = [training_table(task, corruption, group, hashes) for (task, corruption), group in training_grids(summary)]
    parts = [
        "*Generated by `avbench report protocols` — do not edit by hand. Models "
        f"{', '.join(_name(m) for m in MODELS)} × training protocols {', '.join(f'`{p}`' for p in PROTOCOLS)} × "
        f"{', '.join(CORRUPTIONS)} on `{ctx.settings.dataset}` ({ctx.settings.config} config, {epochs}, "
        f"{len(ctx.seeds)} seed(s), {record.resamples} bootstrap resamples).*",
        "",
        f"**The RAVER question.** {_recipe_sentence(extremes, margins)} {_gain_sentence(gains)}",
        "",
        to_markdown(_extremes_table(ctx, extremes, gains)),
        to_markdown(margins_table),
        f"**Architecture vs training over the whole sweeps** ({display(METRIC)} summarised as in the run's "
        "ranked tables).",
        "",
        *(to_markdown(table) for table in grids),
        _limits(ctx, epochs, run.name),
    ]
    return "\n".join(parts)


REPORT = Report(
    "protocols", "Architecture or training: every audio-visual model under every training protocol", SOURCE,
    "table", 1, _needs, build_table, readme=readme_section)
