"""The ranked table ``avbench run`` prints at the end: the ranking score first, then clean score, worst level, Brier.

It shows ``summary.csv`` as the summariser (:mod:`avbench.summary`) wrote it, so the table, the file and the
leaderboard rank a run the same way."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from avbench.metric_specs import display
from avbench.summary import read_summary


def _fmt(value: object) -> str:
    if value == "" or value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def print_summary(run_dir: Path, console: Console) -> None:
    """One table per task × corruption from ``summary.csv``; '*' marks a significant gap to the top model."""
    summary = read_summary(run_dir)
    for (task, corruption), group in summary.groupby(["task", "corruption"], sort=False):
        metric = display(group["metric"].iloc[0])
        shared = str(group["compared_over"].iloc[0])
        categorical = bool(shared)
        ranking = (f"mean {metric} over {shared.replace('+', ', ')} (the conditions that apply to every model)"
                   if categorical else f"area under the {metric} curve")
        table = Table(title=f"{corruption} · {task} · ranked by {ranking}")
        columns = ["rank", "model", *(("score", "own mean") if categorical else ("AUC",)), "clean", "relative",
                   "effective", "worst (level)", "Brier", "vs top"]
        for col in columns:
            table.add_column(col, justify="right" if col not in ("model", "worst (level)") else "left")
        for _, row in group.iterrows():
            sig = "" if row["rank"] == 1 else f"{row['sig'] or 'n.s.'} (p={_fmt(_num(row['p_holm']))})"
            scores = [_fmt(_num(row["score"])), _fmt(_num(row["auc"]))] if categorical else [_fmt(_num(row["auc"]))]
            table.add_row(str(row["rank"]), str(row["model"]), *scores, _fmt(_num(row["clean"])),
                          _fmt(_num(row["relative_robustness"])), _fmt(_num(row["effective_robustness"])),
                          f"{_fmt(_num(row['worst']))} ({row['worst_level']})", _fmt(_num(row["brier"])), sig)
        console.print(table)
        if categorical:
            console.print("own mean = mean over the conditions that apply to that model (the clean one and the loss "
                          "of a modality it uses)")
    console.print("* = significantly below the top model (paired bootstrap of the ranking score, Holm-corrected, "
                  "p < 0.05)")


def _num(value: object) -> object:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value
