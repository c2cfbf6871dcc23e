"""Metric-versus-level curves with confidence bands, one figure per corruption × metric, as PNG and PDF."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from avbench.atomic import write_with  # noqa: E402
from avbench.metric_specs import display  # noqa: E402
from avbench.tasks import get as get_task  # noqa: E402


def plot_curves(df: pd.DataFrame, directory: Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Seed-mean curves of the primary metric of each task, with the interval as a band, in each of ``formats``;
    returns the PNG paths."""
    written = []
    means = df[df["seed"] == "mean"]
    sns.set_theme(style="whitegrid", context="paper")
    for (corruption, task), group in means.groupby(["corruption", "task"], sort=False):
        metric = get_task(task).primary
        g = group[group["metric"] == metric]
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        palette = sns.color_palette("tab20", n_colors=max(1, g["model"].nunique()))
        for colour, (model, curve) in zip(palette, g.groupby("model", sort=False)):
            curve = curve.groupby("x", as_index=False)[["value", "ci_low", "ci_high"]].mean().sort_values("x")
            ax.plot(curve["x"], curve["value"], marker="o", markersize=3, label=model, color=colour)
            ax.fill_between(curve["x"], curve["ci_low"], curve["ci_high"], alpha=0.15, color=colour)
        ax.set_xlabel(_x_label(corruption))
        ax.set_ylabel(display(metric))
        ax.set_title(f"{display(metric)} under {corruption}")
        ax.legend(fontsize=7, ncol=2, frameon=False)
        fig.tight_layout()
        stem = directory / f"{corruption}-{metric}"
        for fmt in formats:
            write_with(stem.with_suffix(f".{fmt}"), lambda p, f=fmt: fig.savefig(p, format=f, dpi=150,
                                                                                 metadata=_metadata(f)))
        plt.close(fig)
        written.append(stem.with_suffix(".png"))
    return written


def _x_label(corruption: str) -> str:
    from avbench.corruptions import REGISTRY

    return REGISTRY.get(corruption).x_label if corruption in REGISTRY else f"{corruption} level"


def _metadata(fmt: str) -> dict[str, object]:
    """No timestamps in the files, so the same run gives the same bytes."""
    return {"CreationDate": None} if fmt == "pdf" else {"Software": None}
