"""RAVER (Goncalves et al., IEEE OJSP 2025): Tables 2–4 and Figures 2, 3 and 5 in the paper's layout."""
from __future__ import annotations

import numpy as np
import pandas as pd

from avbench.corruptions import get as get_corruption
from avbench.scoring.metrics import BRIER, MACRO_F1, MICRO_F1, SAMPLE_PRECISION, f1_key
from avbench.reports.base import Context, Need, Report, Settings
from avbench.reports.figures import FigureArtifact, band, new_figure, palette, plot_only_note
from avbench.reports.layout import DISPLAY, Col, model_table
from avbench.output.tables import Table

MODELS = ("tlstm", "sfav", "mult", "auxformer", "vavl", "raver")  # Table 2's row order
UNIMODAL = ("fer", "ser")
CONTEXT_LENGTHS = (16, 32, 64, 128, 256)
EMOTION_ORDER = ("anger", "sadness", "disgust", "fear", "neutral", "happiness")  # Table 4's column order
SOURCE = "RAVER (Goncalves et al., IEEE OJSP 2025)"


def _tables_need(settings: Settings, seeds: tuple[int, ...]) -> list[Need]:
    """Tables 2–4 share one run: every model, plus the unimodal FER/SER, under whole-modality loss (whose
    ``none`` level is the clean test set)."""
    return [Need((*UNIMODAL, *MODELS), ("modality",), seeds, dataset=settings.dataset, config=settings.config)]


def _sweep_need(corruptions: tuple[str, ...]):
    def needs(settings: Settings, seeds: tuple[int, ...]) -> list[Need]:
        return [Need(MODELS, corruptions, seeds, dataset=settings.dataset, config=settings.config)]

    return needs


def _fig2_needs(settings: Settings, seeds: tuple[int, ...]) -> list[Need]:
    """The context-length sweep chooses N_ctx, so it is scored on the development split (paper §IV-F)."""
    return [Need(("raver",), ("random-audio", "random-video"), seeds, (("n_ctx", n),), settings.dataset,
                 settings.config, split="dev") for n in CONTEXT_LENGTHS]


def _dataset_note(ctx: Context) -> None:
    ctx.notes.append(f"Reproduced by avbench on {ctx.settings.dataset!r} ({ctx.settings.config} config, "
                     f"{len(ctx.seeds)} seed(s)); the paper's numbers are on CREMA-D/MSP-IMPROV, so only the ordering "
                     "and the gaps are comparable, not the absolute values.")


def build_table2(ctx: Context) -> Table:
    _dataset_note(ctx)
    cols = [Col("Macro-F1", MACRO_F1, "modality"), Col("Micro-F1", MICRO_F1, "modality"),
            Col("Sample-Precision", SAMPLE_PRECISION, "modality")]
    return model_table(ctx, "Table 2. Overall performance (95 % bootstrap intervals in brackets)", MODELS, cols,
                       ("crema-d", "msp-improv"))


def build_table3(ctx: Context) -> Table:
    _dataset_note(ctx)
    cols = [Col("100% missing audio (FER)", MACRO_F1, "modality", "audio", only=("fer", *MODELS)),
            Col("100% missing video (SER)", MACRO_F1, "modality", "video", only=("ser", *MODELS))]
    order = ("fer", "ser", "auxformer", "sfav", "tlstm", "mult", "vavl", "raver")
    return model_table(ctx, "Table 3. Macro-F1 under 100 % missing audio or video vs single-modality models",
                       order, cols, ("crema-d",))


def build_table4(ctx: Context) -> Table:
    _dataset_note(ctx)
    emotions = _emotions(ctx)
    cols = [Col("Brier Score", BRIER, "modality")] + [Col(e.capitalize(), f1_key(e), "modality") for e in emotions]
    order = ("tlstm", "sfav", "auxformer", "mult", "vavl", "raver")
    return model_table(ctx, "Table 4. Calibration (Brier, lower is better) and per-emotion F1", order, cols,
                       ("crema-d",))


def _emotions(ctx: Context) -> list[str]:
    """The dataset's emotions (from the predictions), in Table 4's order where the names match the paper's."""
    names = [str(n) for n in ctx.results.predictions("raver", ctx.seeds[0], "modality")["names"]]
    known = [e for e in EMOTION_ORDER if e in names]
    return known + [n for n in names if n not in known]


def build_fig2(ctx: Context) -> FigureArtifact:
    """Macro-F1 on the development split averaged over every random-audio and random-video level, against the
    context length: the sweep that chose N_ctx = 128 in the paper, so it never looks at the test split."""
    _dataset_note(ctx)
    ctx.notes.append("Scored on the development split, as the paper chose its context length (§IV-F); the test "
                     "split is not used to choose N_ctx.")
    records = []
    for n in CONTEXT_LENGTHS:
        label = f"raver[n_ctx={n}]"
        audio = ctx.results.frame(label, "random-audio", MACRO_F1)["value"].to_numpy()
        video = ctx.results.frame(label, "random-video", MACRO_F1)["value"].to_numpy()
        records.append({"n_ctx": n, MACRO_F1: float(np.mean(np.concatenate([audio, video]))),
                        f"{MACRO_F1}_audio_levels": float(audio.mean()),
                        f"{MACRO_F1}_video_levels": float(video.mean())})
    data = pd.DataFrame(records)
    fig, (ax,) = new_figure()
    ax.plot(data["n_ctx"], data[MACRO_F1], marker="o", color=palette(1)[0])
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(CONTEXT_LENGTHS), [str(n) for n in CONTEXT_LENGTHS])
    ax.set_xlabel("context length N_ctx (learnable query tokens)")
    ax.set_ylabel("dev macro-F1 (mean over all missing-\naudio and missing-video levels)")
    ax.set_title("Fig. 2: RAVER context length")
    return FigureArtifact(fig, data, ctx.notes)


def _curves(ctx: Context, corruption: str, models: tuple[str, ...]) -> pd.DataFrame:
    """Every model's seed-mean macro-F1 per level, with each level's position on an evenly spaced axis."""
    position = {lv.label: i for i, lv in enumerate(get_corruption(corruption).levels)}
    frames = [ctx.results.frame(m, corruption, MACRO_F1).assign(model=DISPLAY.get(m, m)) for m in models]
    curves = pd.concat(frames)[["model", "corruption", "level", "x", "value", "ci_low", "ci_high"]]
    return curves.assign(position=curves["level"].map(position)).sort_values(["position"], kind="stable")


def build_fig3(ctx: Context) -> FigureArtifact:
    """Macro-F1 against the share of masked audio (a) and video (b) frames, with interval bands.

    As in the paper, the levels are evenly spaced although the step is 10 % up to 90 % and 1 % above it, so the
    extreme end stays readable."""
    _dataset_note(ctx)
    fig, axes = new_figure(2)
    data = []
    for ax, corruption, what in zip(axes, ("random-audio", "random-video"), ("acoustic", "visual")):
        curves = _curves(ctx, corruption, MODELS)
        for colour, (model, frame) in zip(palette(len(MODELS)), curves.groupby("model", sort=False)):
            band(ax, frame, model, colour, x="position")
        levels = get_corruption(corruption).levels
        ax.set_xticks(range(len(levels)), [f"{lv.x:g}" for lv in levels], fontsize=6)
        ax.set_xlabel(f"missing % of {what} modality")
        ax.set_ylabel("macro-F1")
        data.append(curves)
    axes[0].set_title("(a) masked audio frames")
    axes[1].set_title("(b) masked video frames")
    axes[1].legend(fontsize=7)
    return FigureArtifact(fig, pd.concat(data).drop(columns="position"),
                          ctx.notes + plot_only_note(ctx.compare_published, "Fig. 3"))


def build_fig5(ctx: Context) -> FigureArtifact:
    """Macro-F1 under Markov packet loss; the x axis lists each setting's ADF and its (p_L, p_N)."""
    _dataset_note(ctx)
    levels = get_corruption("markov").levels
    curves = _curves(ctx, "markov", MODELS)
    fig, (ax,) = new_figure(width=8.0)
    for colour, (model, frame) in zip(palette(len(MODELS)), curves.groupby("model", sort=False)):
        ax.errorbar(frame["position"], frame["value"],
                    yerr=[frame["value"] - frame["ci_low"], frame["ci_high"] - frame["value"]], marker="o",
                    markersize=3, capsize=2, label=model, color=colour)
    ax.set_xticks(range(len(levels)),
                  [f"{lv.x:.0f}%\n({lv.params['p_l']:g}, {lv.params['p_n']:g})" for lv in levels], fontsize=7)
    ax.set_xlabel("approximated % of dropped frames, ADF  (p_L, p_N)")
    ax.set_ylabel("macro-F1")
    ax.legend(fontsize=7)
    return FigureArtifact(fig, curves.drop(columns="position"),
                          ctx.notes + plot_only_note(ctx.compare_published, "Fig. 5"))


TABLE2 = Report("raver-table2", "Macro-/micro-F1 and sample precision with intervals", f"{SOURCE}, Table 2", "table",
                1, _tables_need, build_table2)
TABLE3 = Report("raver-table3", "100 % missing audio or video vs SER/FER", f"{SOURCE}, Table 3", "table", 1,
                _tables_need, build_table3)
TABLE4 = Report("raver-table4", "Brier score and per-emotion F1", f"{SOURCE}, Table 4", "table", 1, _tables_need,
                build_table4)
FIG2 = Report("raver-fig2", "Macro-F1 vs context length 16–256", f"{SOURCE}, Fig. 2", "figure", 1, _fig2_needs,
              build_fig2)
FIG3 = Report("raver-fig3", "Macro-F1 vs % masked audio and video frames", f"{SOURCE}, Fig. 3", "figure", 1,
              _sweep_need(("random-audio", "random-video")), build_fig3)
FIG5 = Report("raver-fig5", "Macro-F1 under Markov packet loss vs ADF", f"{SOURCE}, Fig. 5", "figure", 1,
              _sweep_need(("markov",)), build_fig5)
