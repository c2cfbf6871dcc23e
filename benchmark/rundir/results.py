"""Writing a run's tables and plots: ``results.csv``/``.parquet``, ``summary.csv`` and ``plots/``.

Nothing here runs a model or decides anything: the numbers come from :mod:`avbench.scoring.summary` (the one summariser,
which recomputes every score from ``predictions/*.npz``), and each file is written atomically.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avbench.atomic import write_text, write_with
from avbench.data.store import FeatureStore
from avbench.leaderboards.spread import known_spread
from avbench.scoring.summary import RunScores, score_run, summary_frame


def write_results(out: Path, store: FeatureStore, labels: Sequence[str], seeds: Sequence[int],
                  corruptions: Sequence[Any], n_resamples: int, boot_seed: int) -> None:
    """Score the run's predictions and write results.csv/.parquet, summary.csv and plots/."""
    write_scores(out, score_run(out, store.name, labels, seeds, corruptions, n_resamples, boot_seed))


def write_scores(out: Path, scores: RunScores) -> None:
    """Write results.csv/.parquet, summary.csv and plots/ from ``scores`` — each file atomically."""
    from avbench.output.plots import plot_curves  # deferred: matplotlib

    df = scores.rows
    write_text(out / "results.csv", df.to_csv(index=False))
    write_with(out / "results.parquet", lambda p: df.to_parquet(p, index=False))
    write_text(out / "summary.csv", summary_frame(scores, known_spread).to_csv(index=False))
    plot_curves(df, out / "plots")
