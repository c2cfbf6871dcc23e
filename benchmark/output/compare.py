"""``avbench compare RUN_A RUN_B``, the output half: the per-level and summary tables, the difference plots and
``compare.csv``. The numbers come from :mod:`avbench.scoring.compare`."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from avbench.atomic import write_text, write_with
from avbench.output.tables import Cell, Num, Table
from avbench.rundir.run_view import RunView
from avbench.scoring.compare import Comparison
from avbench.scoring.significance import ALPHA, STAR, format_p, star


def level_table(comparison: Comparison, a: RunView, b: RunView) -> Table:
    rows: list[list[Cell]] = []
    for r in comparison.levels.itertuples():
        marker = star(r.p_holm)
        rows.append([comparison.corruption.condition(r.level), f"{r.x:g}", Num(r.a), Num(r.b),
                     Num(r.difference, r.ci_low, r.ci_high, marker), format_p(r.p), format_p(r.p_holm)])
    title = (f"{comparison.corruption.name} · {comparison.task} · {comparison.levels['metric'].iloc[0]}: "
             f"B {comparison.model_b} ({b.directory}) − A {comparison.model_a} ({a.directory})")
    return Table(title, ["level", "x", "A", "B", "B − A (95 % CI)", "p", "p (Holm)"], rows,
                 [f"Seed-aware paired test over the same clips and masks (retraining too when the runs have several "
                  f"seeds; the test set only with one); {STAR} = Holm-corrected p < {ALPHA:g}, the family being the "
                  "levels of this model pair and corruption."])


def summary_table(comparison: Comparison) -> Table:
    rows: list[list[Cell]] = [[d.title, Num(d.a), Num(d.b), Num(d.difference, d.ci_low, d.ci_high),
                               format_p(d.p) if d.p is not None else "–"] for d in comparison.summary]
    return Table(f"{comparison.corruption.name} · {comparison.task} · robustness summary, B − A",
                 ["summary", "A", "B", "B − A (95 % CI)", "p"], rows,
                 ["The ranking score's difference has the seed-aware paired test; the other rows are set side by side "
                  "(effective robustness as each run's summary.csv gives it)."])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def plot_difference(comparison: Comparison, path: Path) -> Path:
    """B − A against the level with its 95 % band, a line at zero and significant levels filled."""
    import matplotlib  # deferred: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib

    levels = comparison.levels.sort_values("x", kind="stable")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.axhline(0.0, color="#666", linewidth=1)
    ax.fill_between(levels["x"], levels["ci_low"], levels["ci_high"], alpha=0.2, color="#1f77b4", label="95 % CI")
    ax.plot(levels["x"], levels["difference"], marker="o", color="#1f77b4", markerfacecolor="white",
            label=f"{comparison.model_b} (B) − {comparison.model_a} (A)")
    significant = levels[levels["p_holm"] < ALPHA]
    ax.plot(significant["x"], significant["difference"], "o", color="#1f77b4", label=f"Holm p < {ALPHA:g}")
    ticks = sorted(set(levels["x"]))
    ax.set_xticks(ticks)
    ax.set_xticklabels([comparison.corruption.condition(levels[levels["x"] == t]["level"].iloc[0])
                        if comparison.corruption.categorical else f"{t:.3g}" for t in ticks], fontsize=8)
    ax.set_xlabel(comparison.corruption.x_label)
    ax.set_ylabel(f"Δ {levels['metric'].iloc[0]} (B − A)")
    ax.set_title(f"{comparison.corruption.name}: {comparison.model_b} (B) − {comparison.model_a} (A)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    write_with(path, lambda p: fig.savefig(p, format="png", dpi=130, metadata={"Software": None}))
    plt.close(fig)
    return path


def write_outputs(comparisons: list[Comparison], out: Path) -> list[Path]:
    """``compare.csv`` (every level of every pair) and one difference plot per pair × corruption."""
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.concat([c.levels for c in comparisons], ignore_index=True)
    written = [out / "compare.csv"]
    write_text(written[0], frame.to_csv(index=False))
    for c in comparisons:
        name = _slug(f"{c.model_a}-vs-{c.model_b}-{c.corruption.name}") + ".png"
        written.append(plot_difference(c, out / name))
    return written
