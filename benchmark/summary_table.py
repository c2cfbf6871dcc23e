"""The ranked table ``avbench run`` prints at the end: robustness area first, then clean score, worst level, Brier.

It is built once as an :class:`avbench.tables.Table` from ``summary.csv`` (or an unfinished run's summary), so the
terminal, ``avbench show`` and the run's ``report.html`` show the same table.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.corruptions import condition_name
from avbench.tables import Cell, Num, Table
from avbench.terminal import rich_table

FOOTNOTE = "* = significantly below the top model (paired bootstrap of the ranking score, Holm-corrected, p < 0.05)"


def as_number(value: object) -> float | None:
    """A summary.csv cell as a float, or None where it is blank or not a number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


def summary_tables(summary: pd.DataFrame) -> list[Table]:
    """One ranked table per task × corruption; 'vs top' is the Holm-corrected test against rank 1."""
    tables = []
    for (task, corruption), group in summary.groupby(["task", "corruption"], sort=False):
        metric = group["metric"].iloc[0]
        categorical = corruption in CORRUPTIONS and CORRUPTIONS.get(corruption).categorical
        ranking = f"mean {metric} over its conditions" if categorical else f"area under the {metric} curve"
        columns = ["rank", "model", "mean" if categorical else "AUC", "clean", "relative", "effective",
                   "worst (level)", "Brier", "vs top"]
        rows: list[list[Cell]] = []
        for _, row in group.sort_values("rank").iterrows():
            p = as_number(row["p_holm"])
            shown = "p –" if p is None else "p<0.001" if p < 0.001 else f"p={p:.3f}"
            vs_top = "" if row["rank"] == 1 else f"{row['sig'] or 'n.s.'} ({shown})"
            worst = as_number(row["worst"])
            rows.append([int(row["rank"]), str(row["model"]), Num(as_number(row["auc"])), Num(as_number(row["clean"])),
                         Num(as_number(row["relative_robustness"])), Num(as_number(row["effective_robustness"])),
                         f"{Num(worst).text()} ({condition_name(corruption, str(row['worst_level']))})",
                         Num(as_number(row["brier"])), vs_top])
        tables.append(Table(f"{corruption} · {task} · ranked by {ranking}", columns, rows, [FOOTNOTE]))
    return tables


def print_summary(run_dir: Path, console: Console) -> None:
    """One table per task × corruption from ``summary.csv``; '*' marks a significant gap to the top model."""
    print_summary_frame(pd.read_csv(run_dir / "summary.csv", keep_default_na=False), console)


def print_summary_frame(summary: pd.DataFrame, console: Console) -> None:
    """The tables of :func:`print_summary` from a summary already in memory (an unfinished run's, for instance)."""
    for table in summary_tables(summary):
        console.print(rich_table(table))
    console.print(FOOTNOTE)
