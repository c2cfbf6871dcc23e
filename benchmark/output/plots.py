"""Metric-versus-level curves with confidence bands, one figure per corruption × metric, as PNG and PDF; and the
house style of every avbench figure."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from avbench.atomic import write_with  # noqa: E402
from avbench.scoring.metrics import display  # noqa: E402
from avbench.tasks import get as get_task  # noqa: E402
from avbench.corruptions import REGISTRY  # noqa: E402
from avbench.models import RECIPE, label_training  # noqa: E402
from avbench.scoring.training_effects import has_protocols  # noqa: E402


# seaborn's "whitegrid" style at its "paper" scale, written out as matplotlib settings: the same look without
# importing seaborn, which imports scipy.stats (~0.7 s of CPU in every run's process, taken from its workers)
STYLE: dict[str, Any] = {
    "axes.facecolor": "white", "axes.edgecolor": ".8", "axes.grid": True, "axes.axisbelow": True,
    "axes.linewidth": 1.0, "axes.labelcolor": ".15", "grid.color": ".8", "text.color": ".15",
    "xtick.color": ".15", "ytick.color": ".15", "xtick.bottom": False, "ytick.left": False,
    "font.size": 9.6, "axes.labelsize": 9.6, "axes.titlesize": 9.6, "legend.title_fontsize": 9.6,
    "xtick.labelsize": 8.8, "ytick.labelsize": 8.8, "legend.fontsize": 8.8,
    "lines.linewidth": 1.2, "lines.markersize": 4.8, "lines.solid_capstyle": "round", "patch.linewidth": 0.8,
    "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
}


def colours(n: int, colour_map: str = "tab20") -> list[tuple[float, ...]]:
    """``n`` colours of a qualitative colour map, repeating its colours when ``n`` exceeds them."""
    table = plt.get_cmap(colour_map).colors  # type: ignore[attr-defined]
    return [tuple(table[i % len(table)]) for i in range(max(1, n))]


def curve_groups(df: pd.DataFrame) -> list[tuple[tuple[str, str, str | None], pd.DataFrame]]:
    """The seed-mean rows of each figure: (corruption, task, training protocol) and its rows. The protocol is None
    in a run without training protocols; with them each protocol's models get their own figure (like with like,
    as in the ranked tables)."""
    means = df[df["seed"] == "mean"]
    if not has_protocols(means["model"].unique()):
        return [((str(c), str(t), None), g) for (c, t), g in means.groupby(["corruption", "task"], sort=False)]
    training = means["model"].map(lambda label: label_training(str(label)))
    return [((str(c), str(t), str(p)), g)
            for (c, t, p), g in means.groupby([means["corruption"], means["task"], training], sort=False)]


def plot_name(corruption: str, metric: str, training: str | None) -> str:
    """A figure's file stem: ``markov-macro_f1``, with ``@clean`` for a training protocol other than the recipe."""
    return f"{corruption}-{metric}" + ("" if training in (None, RECIPE) else f"@{training}")


def plot_curves(df: pd.DataFrame, directory: Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Seed-mean curves of the primary metric of each task, with the interval as a band, in each of ``formats``;
    returns the PNG paths."""
    written = []
    for (corruption, task, training), group in curve_groups(df):
        metric = get_task(task).primary
        g = group[group["metric"] == metric]
        with plt.rc_context(STYLE):
            written.append(_plot_metric(g, corruption, metric, directory, formats, training))
    return written


def _plot_metric(g: pd.DataFrame, corruption: str, metric: str, directory: Path, formats: tuple[str, ...],
                 training: str | None = None) -> Path:
    """One figure: every model's curve of ``metric`` under ``corruption``; returns its PNG path."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for colour, (model, curve) in zip(colours(g["model"].nunique()), g.groupby("model", sort=False)):
        curve = curve.groupby("x", as_index=False)[["value", "ci_low", "ci_high"]].mean().sort_values("x")
        ax.plot(curve["x"], curve["value"], marker="o", markersize=3, label=model, color=colour)
        ax.fill_between(curve["x"], curve["ci_low"], curve["ci_high"], alpha=0.15, color=colour)
    ax.set_xlabel(_x_label(corruption))
    ax.set_ylabel(display(metric))
    ax.set_title(f"{display(metric)} under {corruption}" + (f", trained: {training}" if training else ""))
    ax.legend(fontsize=7, ncol=2, frameon=False)
    fig.tight_layout()
    stem = directory / plot_name(corruption, metric, training)
    for fmt in formats:
        write_with(stem.with_suffix(f".{fmt}"), lambda p, f=fmt: fig.savefig(p, format=f, dpi=150,
                                                                             metadata=_metadata(f)))
    plt.close(fig)
    return stem.with_suffix(".png")


def _x_label(corruption: str) -> str:

    return REGISTRY.get(corruption).x_label if corruption in REGISTRY else f"{corruption} level"


def _metadata(fmt: str) -> dict[str, object]:
    """No timestamps in the files, so the same run gives the same bytes."""
    return {"CreationDate": None} if fmt == "pdf" else {"Software": None}
