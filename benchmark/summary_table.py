"""The ranked table ``avbench run`` prints at the end: robustness area first, then clean score, worst level, Brier."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.corruptions import condition_name
from avbench.terminal import add_plain_row, readable_table


def _fmt(value: object) -> str:
    if value == "" or value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def print_summary(run_dir: Path, console: Console) -> None:
    """One table per task × corruption from ``summary.csv``; '*' marks a significant gap to the top model."""
    summary = pd.read_csv(run_dir / "summary.csv", keep_default_na=False)
    for (task, corruption), group in summary.groupby(["task", "corruption"], sort=False):
        metric = group["metric"].iloc[0]
        categorical = corruption in CORRUPTIONS and CORRUPTIONS.get(corruption).categorical
        ranking = f"mean {metric} over its conditions" if categorical else f"area under the {metric} curve"
        score = "mean" if categorical else "AUC"
        table = readable_table("rank", "model", score, "clean", "relative", "effective", "worst (level)", "Brier",
                               "vs top", title=f"{corruption} · {task} · ranked by {ranking}",
                               right=("rank", score, "clean", "relative", "effective", "Brier", "vs top"))
        for _, row in group.sort_values("rank").iterrows():
            sig = "" if row["rank"] == 1 else f"{row['sig'] or 'n.s.'} (p={_fmt(_num(row['p_holm']))})"
            add_plain_row(table, str(row["rank"]), str(row["model"]), _fmt(_num(row["auc"])), _fmt(_num(row["clean"])),
                          _fmt(_num(row["relative_robustness"])), _fmt(_num(row["effective_robustness"])),
                          f"{_fmt(_num(row['worst']))} ({condition_name(corruption, str(row['worst_level']))})", _fmt(_num(row["brier"])), sig)
        console.print(table)
    console.print("* = significantly below the top model (paired bootstrap of the ranking score, Holm-corrected, "
                  "p < 0.05)")


def _num(value: object) -> object:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value
