"""The audio-text paper (Lin, Goncalves & Busso, ICMI 2023): Tables 1–2 and Figure 4 in the paper's layout.

The ``*``/``†`` markers say that a system is significantly better than a baseline. By default
(``--significance seed-aware``) the test is avbench's seed-aware paired test
(:func:`avbench.scoring.stats.seed_paired_test`: each seed's CCC on shared clip resamples, so it carries the test
set and retraining), Holm-corrected over every comparison the table or figure marks. ``--significance paper`` is
the paper's protocol, kept to reproduce its Table 1: every training seed's test predictions are split into 5 equal
subsets, giving seeds × 5 testing points per system, and a two-tailed Student t-test (p < 0.05) on those points
decides the markers (:func:`avbench.scoring.stats.protocol_points`,
:func:`avbench.scoring.stats.significance_markers`) — which treats points clustered by seed as independent and
corrects for nothing. The printed values are the seed-mean CCC over the whole test set.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from avbench.corruptions import get as get_corruption
from avbench.scoring.metrics import ccc_key
from avbench.scoring.metrics import ATTRIBUTE_NAMES, attribute_scores
from avbench.scoring.significance import ALPHA, level_text
from avbench.reports.base import Context, Need, Report, Settings
from avbench.reports.figures import FigureArtifact, band, new_figure, palette, plot_only_note
from avbench.reports.layout import DISPLAY, Col, model_table
from avbench.reports.published import published
from avbench.output.tables import Cell, Num, Table, with_columns_after
from avbench.scoring.stats import ccc_distribution, holm, protocol_points, seed_paired_test, significance_markers

SOURCE = "Lin, Goncalves & Busso, ICMI 2023"
PROTOCOL_SEEDS = 5
BASELINES = ("mdre-gru", "mdrea-gru")
ALIGN = ("align-vw", "align-fw", "align-multiscalew")
ALIGN_SER = ("align-vw-ser", "align-fw-ser", "align-multiscalew-ser")
DIGITS = 4
MARKERS = ("*", "†")
RESAMPLES, RESAMPLE_SEED = 1000, 0  # clip resamples of the seed-aware test, the same for every system
# one marked comparison: (system, its baselines, corruption, level, attribute index)
Marked = tuple[str, tuple[str, ...], str, str, int]


def _multimodal_need(settings: Settings, seeds: tuple[int, ...]) -> list[Need]:
    """Table 1 and Fig. 4 share one run: the clean scores are word-drop's 0 % level."""
    return [Need((*BASELINES, *ALIGN), ("word_drop",), seeds, dataset=settings.dataset, config=settings.config)]


def _audio_need(settings: Settings, seeds: tuple[int, ...]) -> list[Need]:
    return [Need(ALIGN_SER, ("markov",), seeds, dataset=settings.dataset, config=settings.config)]


def _protocol_note(ctx: Context) -> None:
    ctx.notes.append(f"Reproduced by avbench on {ctx.settings.dataset!r} ({ctx.settings.config} config); the paper's "
                     "numbers are on MSP-Podcast v1.10, so only orderings and gaps are comparable.")


def _points(ctx: Context, label: str, corruption: str, level: str) -> np.ndarray:
    """(seeds × 5, 3) CCC testing points of one system at one level, one column per attribute."""
    return protocol_points(ctx.results.level_outputs(label, ctx.seeds, corruption, level))


def _resampled(ctx: Context, label: str, corruption: str, level: str) -> tuple[np.ndarray, np.ndarray]:
    """(3, S, B) CCC of each attribute per seed on the shared clip resamples, and (3, S) per seed on the test set."""
    dists, points = [], []
    for targets, outputs in ctx.results.level_outputs(label, ctx.seeds, corruption, level):
        dist = ccc_distribution(targets, outputs, n_resamples=RESAMPLES, seed=RESAMPLE_SEED)
        scores = attribute_scores(targets, outputs)
        dists.append([dist[ccc_key(name)] for name in ATTRIBUTE_NAMES])
        points.append([scores[ccc_key(name)] for name in ATTRIBUTE_NAMES])
    return np.moveaxis(np.asarray(dists), 0, 1), np.asarray(points).T


def _markers(ctx: Context, marked: list[Marked]) -> dict[Marked, str]:
    """The marker string of every comparison a table or figure makes, by the chosen significance protocol, and
    the note that says which protocol (and, seed-aware, which Holm family) decided them."""
    n = len(ctx.seeds)
    if ctx.settings.significance == "paper":
        cache: dict[tuple[str, str, str], np.ndarray] = {}

        def points(label: str, corruption: str, level: str) -> np.ndarray:
            key = (label, corruption, level)
            if key not in cache:
                cache[key] = _points(ctx, label, corruption, level)
            return cache[key]

        reduced = (f"; reduced by --seeds {n} from the paper's 5 × 5 = 25" if n < PROTOCOL_SEEDS else "")
        ctx.notes.append(f"Significance by the paper's protocol: {n} seed{'s' if n > 1 else ''} × 5 subsets = {5 * n} "
                         f"testing points{reduced}, "
                         f"two-tailed Student t-test, p < {ALPHA:g}. It treats points clustered by seed as independent "
                         "and is not corrected for multiple comparisons; kept to reproduce the paper (avbench's default "
                         "is --significance seed-aware).")
        return {m: significance_markers(points(m[0], m[2], m[3])[:, m[4]],
                                        [points(b, m[2], m[3])[:, m[4]] for b in m[1]], MARKERS[:len(m[1])])
                for m in marked}
    cache2: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}

    def resampled(label: str, corruption: str, level: str) -> tuple[np.ndarray, np.ndarray]:
        key = (label, corruption, level)
        if key not in cache2:
            cache2[key] = _resampled(ctx, label, corruption, level)
        return cache2[key]

    tests = []
    for system, baselines, corruption, level, k in marked:
        dist, point = resampled(system, corruption, level)
        for baseline in baselines:
            other, other_point = resampled(baseline, corruption, level)
            tests.append(seed_paired_test(dist[k], other[k], point[k], other_point[k]))
    adjusted = iter(holm([p for *_, p in tests]) if tests else [])
    outcomes = iter(tests)
    out = {}
    for m in marked:
        out[m] = "".join(marker for marker, (difference, *_), p in
                         ((marker, next(outcomes), next(adjusted)) for marker in MARKERS[:len(m[1])])
                         if difference > 0 and p < ALPHA)
    ctx.notes.append(f"Significance: seed-aware paired test of the CCC ({n} seed{'s' if n > 1 else ''}; the test set "
                     f"through {RESAMPLES} shared clip resamples" + (", retraining through the between-seed variance"
                                                                      if n > 1 else "; one seed: the test set only")
                     + f"), two-sided, {level_text()} after Holm over the {len(tests)} comparisons marked here. "
                     "--significance paper gives the paper's 5 seeds × 5 subsets t-test.")
    return out


def _clean_level(corruption: str) -> str:
    return min(get_corruption(corruption).levels, key=lambda lv: lv.x).label


def build_table1(ctx: Context) -> Table:
    _protocol_note(ctx)
    level = _clean_level("word_drop")
    cols = [Col(name.capitalize(), ccc_key(name), "word_drop") for name in ATTRIBUTE_NAMES]
    marked = {(m, col.title): (m, BASELINES, "word_drop", level, k) for m in ALIGN for k, col in enumerate(cols)}
    decided = _markers(ctx, list(marked.values()))
    markers = {key: decided[m] for key, m in marked.items()}
    ctx.notes.append("* and † = significantly better than MDRE-GRU and MDREA-GRU, respectively.")
    return model_table(ctx, "Table 1. CCC of the multimodal baselines and the word-chunk alignment strategies",
                       (*BASELINES, *ALIGN), cols, ("msp-podcast",), DIGITS, markers)


def build_table2(ctx: Context) -> Table:
    """Rows = Markov (p_L, p_N) settings; per attribute the three audio-only strategies; markers on MultiScaleW."""
    _protocol_note(ctx)
    levels = get_corruption("markov").levels
    columns = ["approx. drop frames (%)", "(p_L, p_N)"] + [f"{name.capitalize()} {DISPLAY[m]}"
                                                          for name in ATTRIBUTE_NAMES for m in ALIGN_SER]
    rows: list[list[Cell]] = []
    decided = _markers(ctx, [(ALIGN_SER[2], ALIGN_SER[:2], "markov", level.label, k) for level in levels
                             for k in range(len(ATTRIBUTE_NAMES))])
    for level in levels:
        row: list[Cell] = [f"{level.x:.0f}%", f"({level.params['p_l']:g}, {level.params['p_n']:g})"]
        for k, name in enumerate(ATTRIBUTE_NAMES):
            group = []
            for m in ALIGN_SER:
                num = ctx.results.num(m, "markov", level.label, ccc_key(name), DIGITS)
                mark = decided[(m, ALIGN_SER[:2], "markov", level.label, k)] if m == ALIGN_SER[2] else ""
                group.append(Num(num.value, num.low, num.high, mark, DIGITS))
            best = max(n.value for n in group if n.value is not None)
            row.extend(Num(n.value, n.low, n.high, n.markers, DIGITS, bold=n.value == best) for n in group)
        rows.append(row)
    ctx.notes.append("Bold = best per attribute and setting; * and † = Align-MultiScaleW significantly better than "
                     "Align-VW and Align-FW, respectively (audio-only variants).")
    table = Table("Table 2. Audio-only CCC under Markov packet loss", columns, rows, list(ctx.notes))
    if not ctx.compare_published:
        return table
    extra = {2 + 3 * k + i: [(f"{columns[2 + 3 * k + i]} (paper)",
                              [published(m, "msp-podcast", "markov", lv.label, ccc_key(name), DIGITS) for lv in levels])]
             for k, name in enumerate(ATTRIBUTE_NAMES) for i, m in enumerate(ALIGN_SER)}
    return with_columns_after(table, extra)


def build_fig4(ctx: Context) -> FigureArtifact:
    """CCC against the word-drop ratio per attribute, with * / † where MultiScaleW beats VW / FW."""
    _protocol_note(ctx)
    levels = get_corruption("word_drop").levels
    fig, axes = new_figure(3, width=4.2)
    data = []
    decided = _markers(ctx, [(ALIGN[2], ALIGN[:2], "word_drop", lv.label, k) for lv in levels
                             for k in range(len(ATTRIBUTE_NAMES))])
    for k, (ax, name) in enumerate(zip(axes, ATTRIBUTE_NAMES)):
        for colour, model in zip(palette(len(ALIGN)), ALIGN):
            frame = ctx.results.frame(model, "word_drop", ccc_key(name))
            band(ax, frame, DISPLAY[model], colour)
            marks = [decided[(model, ALIGN[:2], "word_drop", lv, k)] if model == ALIGN[2] else ""
                     for lv in frame["level"]]
            for x, y, mark in zip(frame["x"], frame["ci_high"], marks):
                if mark:
                    ax.annotate(mark, (x, y), ha="center", va="bottom", fontsize=8, color=colour)
            data.append(frame.assign(model=DISPLAY[model], markers=marks)[
                ["model", "metric", "level", "x", "value", "ci_low", "ci_high", "markers"]])
        ax.set_title(f"({'abc'[k]}) {name}")
        ax.set_xlabel("word drop ratio (%)")
        ax.set_ylabel("CCC")
    axes[-1].legend(fontsize=7)
    return FigureArtifact(fig, pd.concat(data), ctx.notes + plot_only_note(ctx.compare_published, "Fig. 4"))


TABLE1 = Report("audiotext-table1", "CCC per attribute with * and † significance markers", f"{SOURCE}, Table 1",
                "table", PROTOCOL_SEEDS, _multimodal_need, build_table1)
TABLE2 = Report("audiotext-table2", "Packet-loss CCC of the audio-only variants", f"{SOURCE}, Table 2", "table",
                PROTOCOL_SEEDS, _audio_need, build_table2)
FIG4 = Report("audiotext-fig4", "CCC vs word-drop ratio", f"{SOURCE}, Fig. 4", "figure", PROTOCOL_SEEDS,
              _multimodal_need, build_fig4)
