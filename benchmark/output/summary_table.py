"""The ranked table ``avbench run`` prints at the end: the ranking score first, then clean score, worst level, Brier,
the test against the top model, each model's 95 % rank interval, its probability of beating the top model and its
group (models not significantly apart share a letter).

It shows ``summary.csv`` as the summariser (:mod:`avbench.scoring.summary`) wrote it, so the table, the file and the
leaderboard rank a run the same way. It is built once as an :class:`avbench.output.tables.Table` (from ``summary.csv``, or
an unfinished run's summary), so the terminal, ``avbench show`` and the run's ``report.html`` show the same table.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from rich.console import Console

from avbench.corruptions import condition_name
from avbench.scoring.metrics import display
from avbench.scoring.metrics import BRIER
from avbench.scoring.ranking import rank_text
from avbench.scoring.significance import ALPHA, STAR, p_phrase
from avbench.tasks import get as get_task
from avbench.tasks import names as task_names
from avbench.scoring.summary import as_number, read_summary, summary_groups
from avbench.output.tables import Cell, Num, Table
from avbench.output.terminal import GROUP, print_table
from avbench.output.training_table import training_tables
from avbench.rundir.record import read_record

FOOTNOTE = (f"{STAR} = significantly below the top model (seed-aware paired test of the ranking score, p < {ALPHA:g} "
            "after Holm over every pair of models in the table); the interval of each difference at its Holm level "
            "is in summary.csv (diff_low, diff_high), and excludes 0 exactly when starred. rank 95 % = 1 + the models "
            "significantly above, to the count minus the models significantly below; P(>top) = probability that a "
            "training run of the model beats one of the top model on a resampled test set (rliable's probability of "
            "improvement); group = a new letter where the group's first model is significantly above.")
ONE_SEED = ("One training seed: significance, rank intervals and P(>top) cover the test set (clip resampling) only, "
            "not retraining, which can move a score as much (train with --seeds 5 for tests that carry it).")
NOISE = ("*≈ = significant on this test set but within retraining noise: the gap to the top is smaller than 1.96 × "
         "the between-seed SD of the difference known for these two architectures from the verified multi-seed "
         "entries, so retraining alone could produce it (summary.csv: within_noise, for every row).")
NO_SPREAD = ("No verified multi-seed entry gives the retraining spread of these architectures, so no gap is marked "
             "as within retraining noise.")
OWN_MEAN = ("own mean = mean over the conditions that apply to that model (the clean one and the loss of a modality "
            "it uses)")


def summary_tables(summary: pd.DataFrame) -> list[Table]:
    """One ranked table per task × corruption (× training protocol in a run with several; rows in summary order:
    by rank); 'vs top' is the Holm-corrected test against rank 1."""
    tables = []
    for (task, corruption, training), group in summary_groups(summary):
        metric = display(group["metric"].iloc[0])
        shared = str(group["compared_over"].iloc[0]) if "compared_over" in group else ""  # older runs lack it
        categorical = bool(shared)
        ranking = (f"mean {metric} over {', '.join(condition_name(corruption, c) for c in shared.split('+'))} "
                   "(the conditions that apply to every model)" if categorical else f"area under the {metric} curve")
        calibration = _calibration(str(task))
        columns = ["rank", "model", *(("score", "own mean") if categorical else ("AUC",)), "clean", "relative",
                   "effective", "worst (level)", *((display(calibration),) if calibration else ()), "vs top",
                   "rank 95 %", "P(>top)", GROUP]
        rows: list[list[Cell]] = []
        for _, row in group.iterrows():
            p = as_number(row["p_holm"])
            noise = "≈" if row.get("within_noise", "") == "yes" and row["sig"] else ""  # a star retraining could make
            vs_top = "" if str(row["rank"]) in ("1", "") else f"{row['sig'] or 'n.s.'}{noise} ({p_phrase(p)})"
            scores = [Num(as_number(row["score"])), Num(as_number(row["auc"]))] if categorical else \
                [Num(as_number(row["auc"]))]
            worst = f"{Num(as_number(row['worst'])).text()} ({condition_name(corruption, str(row['worst_level']))})"
            rows.append([str(row["rank"]) or "–", str(row["model"]), *scores, Num(as_number(row["clean"])),
                         Num(as_number(row["relative_robustness"])), Num(as_number(row["effective_robustness"])),
                         worst, *((Num(as_number(row["brier"])),) if calibration else ()), vs_top,
                         _rank_interval(row), Num(as_number(row.get("p_improve")), digits=2), str(row.get("group", ""))])
        notes = [*((OWN_MEAN,) if categorical else ()), FOOTNOTE, *seed_notes(group)]
        trained = f" · trained: {training}" if training is not None else ""
        tables.append(Table(f"{corruption} · {task}{trained} · ranked by {ranking}", columns, rows, notes))
    return tables


def _rank_interval(row: pd.Series) -> str:
    """The row's rank interval as :func:`avbench.scoring.ranking.rank_text` writes it (``–`` for runs written
    before rank intervals)."""
    low, high = as_number(row.get("rank_low")), as_number(row.get("rank_high"))
    return rank_text(None if low is None or high is None else (int(low), int(high)))


def seed_notes(summary: pd.DataFrame) -> list[str]:
    """What a table's significance covers: one seed (test set only; and the retraining-noise mark when it was
    judged), or nothing more to say when every model has several seeds."""
    seeds = {as_number(v) for v in summary.get("seeds", pd.Series(dtype=object))}
    if seeds != {1.0}:
        return []
    noise = summary.get("retraining_noise", pd.Series(dtype=object))
    judged = any(as_number(v) is not None for v in noise)
    return [ONE_SEED, NOISE if judged else NO_SPREAD]


def shared_notes(tables: list[Table]) -> list[str]:
    """The notes said once under all tables of a run (the star, what one seed covers), in order."""
    return list(dict.fromkeys(n for t in tables for n in t.notes if n in (FOOTNOTE, ONE_SEED, NOISE, NO_SPREAD)))


def _calibration(task: str) -> str | None:
    """The calibration metric a task's table shows (the ``brier`` column of summary.csv); a task this installation
    does not know (a plugin's that is not installed) keeps the column."""
    return get_task(task).calibration if task in task_names() else BRIER


def print_summary(run_dir: Path, console: Console) -> None:
    """One table per task × corruption from ``summary.csv``; '*' marks a significant gap to the top model. A run
    with training protocols adds its architecture-vs-training tables."""
    print_summary_frame(read_summary(run_dir), console, read_record(run_dir).checkpoint_hashes or {})


def print_summary_frame(summary: pd.DataFrame, console: Console, hashes: Mapping[str, str] | None = None) -> None:
    """The tables of :func:`print_summary` from a summary already in memory (an unfinished run's, for instance);
    ``hashes`` (label → checkpoint hash) mark the protocols that trained an architecture exactly as clean did."""
    tables = summary_tables(summary)
    for table in tables:
        print_table(console, table)
        if OWN_MEAN in table.notes:
            console.print(OWN_MEAN, markup=False, highlight=False)
    for note in shared_notes(tables):
        console.print(note, markup=False, highlight=False)
    for table in training_tables(summary, hashes):
        print_table(console, table)
        for note in table.notes:
            console.print(note, markup=False, highlight=False)
