"""Matplotlib (Agg) helpers shared by the figure reports: curves with interval bands, saving as PNG and PDF."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from avbench.atomic import write_text, write_with  # noqa: E402
from avbench.output.plots import STYLE, colours  # noqa: E402


@dataclass
class FigureArtifact:
    """A finished figure plus the numbers it plots (written as CSV beside the images, for re-plotting)."""

    figure: Figure
    data: pd.DataFrame
    notes: list[str]


def new_figure(n_panels: int = 1, width: float = 6.4, height: float = 4.0) -> tuple[Figure, list[Axes]]:
    plt.rcParams.update(STYLE)  # global, as the figure is drawn and saved after this returns
    fig, axes = plt.subplots(1, n_panels, figsize=(width * n_panels if n_panels > 1 else width, height),
                             squeeze=False)
    return fig, list(axes[0])


def band(ax: Axes, frame: pd.DataFrame, label: str, colour: tuple[float, ...] | str, x: str = "x") -> None:
    """One curve of seed-mean values with its interval as a translucent band (the papers' mean/lower/upper)."""
    ax.plot(frame[x], frame["value"], marker="o", markersize=3, label=label, color=colour)
    ax.fill_between(frame[x], frame["ci_low"], frame["ci_high"], alpha=0.18, color=colour, linewidth=0)


def plot_only_note(compare_published: bool, figure: str) -> list[str]:
    """What ``--compare-published`` says for a figure the paper gives only as a plot."""
    return [f"{figure} of the paper is a plot without printed numbers; --compare-published has nothing to add."
            ] if compare_published else []


def palette(n: int) -> list[tuple[float, float, float]]:
    return colours(n, "tab10")


def save(artifact: FigureArtifact, base: Path, title: str) -> list[Path]:
    """``base``.png (200 dpi), .pdf, .csv (the data) and .md (a caption with the notes), each written atomically;
    the figure is closed afterwards."""
    paths = [base.with_suffix(s) for s in (".png", ".pdf", ".csv", ".md")]
    artifact.figure.tight_layout()
    # no timestamps or version stamps in the files, so the same results give the same bytes
    write_with(paths[0], lambda p: artifact.figure.savefig(p, dpi=200, format="png", metadata={"Software": None}),
               suffix=".png")
    write_with(paths[1], lambda p: artifact.figure.savefig(p, format="pdf", metadata={"CreationDate": None}),
               suffix=".pdf")
    write_text(paths[2], artifact.data.to_csv(index=False))
    caption = [f"### {title}", f"![{title}]({paths[0].name})", *artifact.notes]
    write_text(paths[3], "\n\n".join(caption) + "\n")
    plt.close(artifact.figure)
    return paths
