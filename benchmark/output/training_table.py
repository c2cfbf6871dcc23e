"""Architecture vs training, for people: one model × protocol table and heatmap per task × corruption of a run
with training protocols (``avbench run --protocols``).

Both are read from ``summary.csv`` as the summariser wrote it (:mod:`avbench.scoring.summary`: each row's ranking
summary and its protocol effect against ``clean``), so the terminal, ``report.html`` and the README section of
``avbench report protocols`` show the same numbers. Nothing here scores anything.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from avbench.models import format_label
from avbench.output.tables import Cell, Num, Table
from avbench.scoring.metrics import display
from avbench.scoring.significance import STAR, level_text
from avbench.scoring.summary import EFFECT_CONTROL, as_number, categorical
from avbench.scoring.training_effects import variance_shares

SAME = "same weights"  # the protocol trains the architecture exactly as clean does: one checkpoint, Δ = 0


def training_grids(summary: pd.DataFrame) -> list[tuple[tuple[str, str], pd.DataFrame]]:
    """(task, corruption) and its rows of ``summary.csv``, for a run with training protocols (none without)."""
    if "training" not in summary.columns:
        return []
    return [((str(task), str(corruption)), group)
            for (task, corruption), group in summary.groupby(["task", "corruption"], sort=False)]


def auc_grid(group: pd.DataFrame) -> pd.DataFrame:
    """Architectures (rows, in summary order) × protocols (columns, in run order): the ranking summary, NaN where
    the run has no such training."""
    architectures = list(dict.fromkeys(group["architecture"].astype(str)))
    protocols = list(dict.fromkeys(group["training"].astype(str)))
    grid = pd.DataFrame(float("nan"), index=architectures, columns=protocols)
    for row in group.itertuples(index=False):
        value = as_number(row.auc)
        if value is not None:
            grid.loc[str(row.architecture), str(row.training)] = value
    return grid


def _same_weights(label: str, architecture: str, hashes: Mapping[str, str]) -> bool:
    control = format_label(architecture, None, EFFECT_CONTROL)
    return label in hashes and control in hashes and hashes[label] == hashes[control]


def training_table(task: str, corruption: str, group: pd.DataFrame, hashes: Mapping[str, str]) -> Table:
    """The "architecture vs training" table of one task × corruption: the ranking summary under every protocol,
    then every protocol's effect against ``clean`` with its interval and Holm star. ``hashes`` (label → checkpoint
    hash, from run.json) marks where a protocol trained an architecture exactly as clean did."""
    metric = display(str(group["metric"].iloc[0]))
    summary_name = f"mean {metric}" if categorical(corruption) else "AUC"
    grid = auc_grid(group)
    protocols = list(grid.columns)
    effects = [p for p in protocols if p != EFFECT_CONTROL] if EFFECT_CONTROL in protocols else []
    columns = ["architecture", *(f"{summary_name} {p}" for p in protocols), *(f"Δ {p}" for p in effects)]
    rows: list[list[Cell]] = []
    for architecture in grid.index:
        cells: list[Cell] = [architecture, *(Num(None if pd.isna(v) else float(v)) for v in grid.loc[architecture])]
        for protocol in effects:
            found = group[(group["architecture"] == architecture) & (group["training"] == protocol)]
            if not len(found):
                cells.append(Num(None))
                continue
            row = found.iloc[0]
            if _same_weights(str(row["model"]), architecture, hashes):
                cells.append(SAME)
            else:
                cells.append(Num(as_number(row["training_effect"]), as_number(row["training_effect_low"]),
                                 as_number(row["training_effect_high"]), str(row["training_sig"] or "")))
        rows.append(cells)
    what = "mean over the conditions that apply to the model" if categorical(corruption) else \
        f"area under the {metric} curve over the sweep"
    notes = [f"{summary_name} = {what}, per training protocol (avbench list protocols)."]
    if effects:
        notes.append(f"Δ = {summary_name} under the protocol minus under {EFFECT_CONTROL}, same architecture, paired "
                     "seed by seed over training seeds and test clips (same masks, same resamples); 95 % interval and p "
                     f"from the seed-aware paired test (test-set resamples and the between-seed variance of the "
                     f"differences, Student t); {STAR} = significant at {level_text()} after Holm correction across "
                     f"the architectures of one protocol. {SAME} = the protocol trains the architecture exactly as "
                     f"{EFFECT_CONTROL} does (one checkpoint).")
    shares = variance_shares(grid)
    if shares is not None:
        notes.append(f"Architecture vs training: over the {shares.models} architectures × {shares.protocols} "
                     f"protocols, {shares.architecture:.0%} of the spread of {summary_name} lies between "
                     f"architectures, {shares.training:.0%} between training protocols and {shares.interaction:.0%} "
                     "in their interaction (two-way sums of squares).")
    return Table(f"{corruption} · {task} · architecture vs training ({summary_name} of {metric})", columns, rows,
                 notes)


def training_tables(summary: pd.DataFrame, hashes: Mapping[str, str] | None = None) -> list[Table]:
    """One :func:`training_table` per task × corruption of a run with training protocols (none without)."""
    return [training_table(task, corruption, group, hashes or {})
            for (task, corruption), group in training_grids(summary)]


def heatmap(task: str, corruption: str, group: pd.DataFrame) -> Any:
    """The model × protocol heatmap of the ranking summary (each cell annotated), as a seaborn figure."""
    from avbench.output.seaborn_figures import heatmap_figure  # deferred: seaborn, matplotlib

    metric = display(str(group["metric"].iloc[0]))
    return heatmap_figure(auc_grid(group), f"{corruption} · {task}: architecture × training",
                          f"{'mean' if categorical(corruption) else 'AUC'} of {metric}", xlabel="training protocol")
