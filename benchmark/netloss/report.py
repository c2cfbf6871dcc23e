"""What ``avbench compare-loss`` writes and shows: tables (terminal, CSV, Markdown, HTML), one figure, and the
section a run's ``report.html`` gains when the comparison was made inside the run directory.

Files in the comparison's directory: ``compare-loss-models.csv`` (per model × concealment: both scores, the gap
with its paired 95 % interval and p), ``compare-loss-levels.csv`` (per level), ``compare-loss-kendall.csv`` (τ
per concealment and task), ``compare-loss.png`` and ``compare-loss.md`` / ``compare-loss.html`` (self-contained,
the figure inlined). Every number comes from the comparison; nothing here scores anything.
"""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from avbench.atomic import write_text, write_with
from avbench.output.html_page import page
from avbench.output.tables import Num, Table, to_html, to_markdown

MODELS_CSV, LEVELS_CSV, KENDALL_CSV = "compare-loss-models.csv", "compare-loss-levels.csv", "compare-loss-kendall.csv"
FIGURE, MARKDOWN, HTML = "compare-loss.png", "compare-loss.md", "compare-loss.html"
FOLDER_IN_RUN = "compare-loss"  # inside a run directory, where the run's report looks
NOTE_GAP = ("gap = signal-level − feature-level score (area under the primary metric's curve over the shared levels); "
            "95 % interval and p from the paired clip bootstrap (same resamples on both sides); * = p < 0.05.")
NOTE_TAU = ("Kendall's τ between the model rankings by feature-level and by signal-level score: 1 = same order, "
            "−1 = reversed.")


def _p(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else "<0.001" if value < 0.001 else f"{value:.3f}"


def _corruption(frame: pd.DataFrame) -> str:
    return str(frame["corruption"].iloc[0]) if len(frame) else ""


def model_table(models: pd.DataFrame) -> Table:
    corruption = _corruption(models)
    concealments = list(dict.fromkeys(models["concealment"]))
    columns = ["model", "task", "feature level"]
    for c in concealments:
        columns += [f"signal · {c}", f"gap · {c} (95 % CI)"]
    rows = []
    for (model, task), group in models.groupby(["model", "task"], sort=False):
        by = {r.concealment: r for r in group.itertuples()}
        first = next(iter(by.values()))
        row: list[object] = [model, task, Num(first.feature)]
        for c in concealments:
            r = by[c]
            row += [Num(r.signal), Num(r.gap, r.ci_low, r.ci_high, "*" if r.p < 0.05 else "")]
        rows.append(row)
    return Table(f"{corruption}: feature-level masking vs signal-level loss with concealment, per model",
                 columns, rows, [NOTE_GAP])  # type: ignore[arg-type]


def kendall_table(kendall: pd.DataFrame) -> Table:
    corruption = _corruption(kendall)
    rows = [[r.concealment, r.task, str(r.models), Num(r.tau), _p(r.p)] for r in kendall.itertuples()]
    return Table(f"{corruption}: do the two sides rank the models alike?", ["concealment", "task", "models",
                                                                              "Kendall τ", "p"], rows, [NOTE_TAU])


def figure(models: pd.DataFrame, levels: pd.DataFrame, kendall: pd.DataFrame, x_label: str, path: Path) -> Path:
    """Left: every model's signal-level score against its feature-level score, one colour per concealment (the
    diagonal is "no difference"). Right: the mean gap over models at each level."""
    import matplotlib  # deferred: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib

    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    low = float(min(models["feature"].min(), models["signal"].min()))
    high = float(max(models["feature"].max(), models["signal"].max()))
    pad = 0.05 * max(high - low, 1e-3)
    left.plot([low - pad, high + pad], [low - pad, high + pad], color="#888", linewidth=1, linestyle="--")
    for i, (concealment, group) in enumerate(models.groupby("concealment", sort=False)):
        taus = kendall[kendall["concealment"] == concealment]["tau"]
        tau = ", ".join("–" if not math.isfinite(t) else f"{t:.2f}" for t in taus)
        left.scatter(group["feature"], group["signal"], color=colours[i % len(colours)],
                     label=f"{concealment} (τ = {tau})", zorder=3)
        means = levels[levels["concealment"] == concealment].groupby("x", sort=True)["difference"].mean()
        right.plot(means.index, means.values, marker="o", color=colours[i % len(colours)], label=concealment)
    for r in models.drop_duplicates("model").itertuples():
        left.annotate(str(r.model), (r.feature, r.signal), fontsize=7, xytext=(3, 3), textcoords="offset points")
    metric = str(models["metric"].iloc[0])
    left.set_xlabel(f"feature-level masking: area under {metric}")
    left.set_ylabel(f"signal-level loss: area under {metric}")
    left.set_title("per model (diagonal: no difference)")
    left.legend(fontsize=8, frameon=False)
    right.axhline(0.0, color="#888", linewidth=1)
    right.set_xlabel(x_label)
    right.set_ylabel(f"Δ {metric}, signal − feature (mean over models)")
    right.set_title("per level")
    right.legend(fontsize=8, frameon=False)
    fig.suptitle(f"{_corruption(models)}: the same losses applied to features or to the media")
    fig.tight_layout()
    write_with(path, lambda p: fig.savefig(p, format="png", dpi=120, metadata={"Software": None}))
    plt.close(fig)
    return path


def _page(tables: list[Table], png: bytes, title: str, intro: str) -> str:
    body = "".join(f"<h3>{html.escape(t.title)}</h3>{to_html(t)}"
                   + "".join(f'<p class="note">{html.escape(n)}</p>' for n in t.notes) for t in tables)
    data = base64.b64encode(png).decode()
    image = f'<img class="figure" src="data:image/png;base64,{data}" alt="{html.escape(title)}">'
    return page(title, f"<h1>{html.escape(title)}</h1><p class=\"note\">{html.escape(intro)}</p>{body}{image}")


def write_outputs(models: pd.DataFrame, levels: pd.DataFrame, kendall: pd.DataFrame, x_label: str, out: Path,
                  intro: str) -> list[Path]:
    """Every file of a comparison (see the module), written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in ((MODELS_CSV, models), (LEVELS_CSV, levels), (KENDALL_CSV, kendall)):
        write_text(out / name, frame.to_csv(index=False))
        written.append(out / name)
    written.append(figure(models, levels, kendall, x_label, out / FIGURE))
    tables = [model_table(models), kendall_table(kendall)]
    title = f"Loss comparison: {_corruption(models)}"
    markdown = [f"# {title}", "", intro, ""]
    for table in tables:
        markdown += [f"## {table.title}", "", to_markdown(table), *table.notes, ""]
    markdown += [f"![{title}]({FIGURE})", ""]
    write_text(out / MARKDOWN, "\n".join(markdown))
    write_text(out / HTML, _page(tables, (out / FIGURE).read_bytes(), title, intro))
    return [*written, out / MARKDOWN, out / HTML]


def run_section(run_dir: Path) -> str:
    """The run report's section for a comparison made inside the run directory ('' when there is none)."""
    folder = Path(run_dir) / FOLDER_IN_RUN
    if not (folder / MODELS_CSV).is_file() or not (folder / FIGURE).is_file():
        return ""
    tables = [model_table(pd.read_csv(folder / MODELS_CSV)), kendall_table(pd.read_csv(folder / KENDALL_CSV))]
    body = "".join(f"<h3>{html.escape(t.title)}</h3><div class=\"scroll\">{to_html(t)}</div>"
                   + "".join(f'<p class="note">{html.escape(n)}</p>' for n in t.notes) for t in tables)
    png = base64.b64encode((folder / FIGURE).read_bytes()).decode()
    return (f"<section><h2>Feature-level masking vs signal-level loss ({html.escape(FOLDER_IN_RUN)}/)</h2>{body}"
            f'<figure><img class="figure" src="data:image/png;base64,{png}" alt="loss comparison"></figure></section>')
