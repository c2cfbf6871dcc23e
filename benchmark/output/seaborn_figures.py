"""The figures seaborn suits: heatmaps, per-class scores and rank intervals (``avbench show RUN_DIR --plots``,
``Run.plots()``).

Only the commands that draw these import this module: seaborn imports ``scipy.stats`` behind it (about 0.7 s of CPU),
which a run's process must not pay — a run's own curves use :mod:`avbench.output.plots`, which takes seaborn's look
as plain matplotlib settings. :func:`heatmap` is the one helper for every annotated grid of numbers (per-class
scores here; a protocol × model heatmap elsewhere can use it too).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from avbench.atomic import write_with  # noqa: E402
from avbench.models import RECIPE  # noqa: E402
from avbench.output.plots import plot_name  # noqa: E402
from avbench.scoring.summary import summary_groups  # noqa: E402
from avbench.output.tables import Num, Table  # noqa: E402
from avbench.scoring.metrics import display, spec  # noqa: E402
from avbench.tasks import get as get_task  # noqa: E402

THEME: dict[str, Any] = {"style": "whitegrid", "context": "paper"}


def _save(fig: Any, path: Path) -> Path:
    """PNG without a timestamp, so the same data give the same bytes."""
    write_with(path, lambda p: fig.savefig(p, format="png", dpi=150, metadata={"Software": None}))
    plt.close(fig)
    return path


def heatmap(frame: pd.DataFrame, path: Path, title: str, value_label: str, fmt: str = ".3f",
            cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
            center: float | None = None) -> Path:
    """``frame`` (rows × columns of numbers; missing cells blank) as an annotated heatmap written to ``path``."""
    return _save(heatmap_figure(frame, title, value_label, fmt=fmt, cmap=cmap, vmin=vmin, vmax=vmax,
                                center=center), path)


def heatmap_figure(frame: pd.DataFrame, title: str, value_label: str, fmt: str = ".3f", cmap: str = "viridis",
                   vmin: float | None = None, vmax: float | None = None, center: float | None = None,
                   xlabel: str = "") -> Any:
    """The figure of :func:`heatmap`, for callers that embed it (the run report) rather than write a file: one
    readable annotated cell per number, missing cells blank, the colour scale labelled ``value_label``."""
    rows, columns = frame.shape
    with sns.axes_style("white"), sns.plotting_context(THEME["context"]):
        fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * columns + 0.08 * max(map(len, map(str, frame.index)),
                                                                                  default=0)),
                                        max(2.4, 1.2 + 0.38 * rows)))
        sns.heatmap(frame.astype(float), annot=True, fmt=fmt, cmap=cmap, vmin=vmin, vmax=vmax, center=center,
                    linewidths=0.5, cbar_kws={"label": value_label}, ax=ax)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=30)
        fig.tight_layout()
    return fig


def per_class_heatmaps(tables: Sequence[Table], directory: Path) -> list[Path]:
    """One heatmap per per-class table of a run (:func:`avbench.output.run_report.per_class_tables`): models ×
    classes on the clean test set, on the full range of the task's per-class metric."""
    written = []
    for table in tables:
        task = table.title.split(" · ")[0]
        family = get_task(task).per_class
        values = pd.DataFrame([[cell.value if isinstance(cell, Num) else None for cell in row[1:]]
                               for row in table.rows],
                              index=[str(row[0]) for row in table.rows], columns=table.columns[1:])
        low, high = spec(family + str(table.columns[1])).bounds
        written.append(heatmap(values, directory / f"per-class-{task}.png", table.title,
                               display(family + str(table.columns[1])).split()[0], vmin=low, vmax=high))
    return written


def rank_plot(rows: pd.DataFrame, path: Path, title: str) -> Path:
    """Each model's rank and its 95 % rank interval, as ``summary.csv`` gives them (``rank``, ``rank_low``,
    ``rank_high``: the joint intervals of :mod:`avbench.scoring.ranking`), models in rank order, the groups of models
    not significantly apart in one colour each."""
    ordered = rows.assign(rank=pd.to_numeric(rows["rank"]), low=pd.to_numeric(rows["rank_low"]),
                          high=pd.to_numeric(rows["rank_high"])).sort_values(["rank", "model"])
    n = len(ordered)
    groups = list(dict.fromkeys(ordered["group"].astype(str)))
    palette = dict(zip(groups, sns.color_palette("colorblind", max(1, len(groups)))))
    with sns.axes_style(THEME["style"]), sns.plotting_context(THEME["context"]):
        fig, ax = plt.subplots(figsize=(6.4, max(2.0, 0.9 + 0.32 * n)))
        for y, row in enumerate(ordered.itertuples()):
            colour = palette[str(row.group)]
            ax.plot([row.low, row.high], [y, y], color=colour, linewidth=2.5, solid_capstyle="butt")
            ax.plot([row.rank], [y], "o", color=colour)
        ax.set_yticks(range(n), list(ordered["model"]))
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlim(0.5, n + 0.5)
        ax.set_xticks(range(1, n + 1))
        ax.set_xlabel("rank with its 95 % interval (pairwise tests, Holm); colour: group")
        ax.set_title(title)
        fig.tight_layout()
    return _save(fig, path)


def rank_plots(summary: pd.DataFrame, directory: Path) -> list[Path]:
    """One rank plot per ranking of a run's summary (``summary.csv``): task × corruption, and training protocol in a
    run with several (each protocol is ranked on its own), named as the run's curve figures are."""
    written = []
    for (task, corruption, training), group in summary_groups(summary):
        ranked = group[pd.to_numeric(group["rank"], errors="coerce").notna()]
        if len(ranked):
            trained = "" if training in (None, RECIPE) else f" · trained {training}"
            written.append(rank_plot(ranked, directory / f"ranks-{plot_name(corruption, task, training)}.png",
                                     f"{corruption} · {task}{trained} · ranked by "
                                     f"{display(str(ranked['metric'].iloc[0]))}"))
    return written
