"""``report.html``: one self-contained page per run directory — ranked tables, curves, per-class scores,
reliability diagrams and provenance.

The page opens offline and from a file: every figure is a PNG inlined as base64, there is no script, and a
Content-Security-Policy forbids every fetch. Every string from the run (model labels carry user overrides) is
HTML-escaped. The numbers are the run's own (``results.csv``/``summary.csv``, or what an unfinished run has done,
see :mod:`avbench.rundir.run_view`); nothing here scores anything.
"""
from __future__ import annotations

import base64
import html
import io
import json
import tempfile
from pathlib import Path

import pandas as pd

from avbench.atomic import write_text
from avbench.netloss.report import run_section
from avbench.output.html_page import page
from avbench.rundir import predictions
from avbench.rundir.run_view import RunView, open_run
from avbench.scoring.metrics import ECE, family_of, reliability_curve
from avbench.tasks import get as get_task
from avbench.tasks import names as task_names
from avbench.output.summary_table import shared_notes, summary_tables
from avbench.scoring.summary import summary_groups
from avbench.output.training_table import heatmap, training_grids, training_table
from avbench.output.tables import Num, Table, bold_best, to_html


def _png(figure: object) -> str:
    """A matplotlib figure as an inline data URI (closed afterwards)."""
    import matplotlib.pyplot as plt  # deferred: matplotlib

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(uri: str, alt: str, css: str = "figure") -> str:
    return f'<img class="{css}" src="{uri}" alt="{html.escape(alt)}">'


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _table_block(table: Table) -> str:
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in table.notes if n not in shared_notes([table]))
    return f"<h3>{html.escape(table.title)}</h3><div class=\"scroll\">{to_html(table)}</div>{notes}"


def _curve_figures(view: RunView) -> dict[tuple[str, str, str | None], str]:
    """(corruption, task, training protocol or None) → inline PNG of the plots the runner writes: read from
    ``plots/`` of a finished run, drawn (PNG only) from what is done when the run is unfinished."""
    from avbench.output.plots import curve_groups, plot_curves, plot_name  # deferred: matplotlib

    names = {key: f"{plot_name(key[0], get_task(key[1]).primary, key[2])}.png" for key, _ in curve_groups(view.rows)}
    with tempfile.TemporaryDirectory() as scratch:
        directory = view.directory / "plots"
        if not view.complete or not all((directory / name).is_file() for name in names.values()):
            directory = Path(scratch)
            plot_curves(view.rows, directory, formats=("png",))
        return {key: "data:image/png;base64," + base64.b64encode((directory / name).read_bytes()).decode()
                for key, name in names.items()}


def _clean_rows(view: RunView) -> pd.DataFrame:
    """Seed-mean rows of the clean condition (the x = 0 level of the first corruption that has one)."""
    means = view.rows[view.rows["seed"] == "mean"]
    for corruption in view.corruptions:
        rows = means[(means["corruption"] == corruption.name) & (means["x"] == 0.0)]
        if len(rows):
            first_level = rows["level"].iloc[0]
            return rows[rows["level"] == first_level]
    return means.iloc[0:0]


def per_class_tables(view: RunView) -> list[Table]:
    """One per-class table per task of the run, on the clean test set: the family its task declares
    (:attr:`avbench.tasks.Task.per_class`; per-emotion F1, per-attribute CCC)."""
    clean = _clean_rows(view)
    tables = []
    for task in dict.fromkeys(clean["task"]):
        declared = get_task(str(task)) if str(task) in task_names() else None
        if declared is None or not declared.per_class:
            continue
        prefix, title = declared.per_class, declared.per_class_title
        rows = clean[(clean["task"] == task) & (clean["metric"].map(family_of) == prefix)]
        metrics = list(dict.fromkeys(rows["metric"]))
        if not metrics:
            continue
        cells: list[list[object]] = []
        for model, group in rows.groupby("model", sort=False):
            by_metric = {r.metric: Num(r.value, r.ci_low, r.ci_high) for r in group.itertuples()}
            cells.append([model, *(by_metric.get(m, Num(None)) for m in metrics)])
        for j in range(1, len(metrics) + 1):
            bold_best(cells, j)  # type: ignore[arg-type]
        level = f"{clean['corruption'].iloc[0]} level {clean['level'].iloc[0]}"
        tables.append(Table(f"{task} · {title}, clean test set ({level})",
                            ["model", *(m[len(prefix):] for m in metrics)], cells,  # type: ignore[arg-type]
                            ["95 % intervals in parentheses (clip bootstrap; t interval over seeds with several)."]))
    return tables


def reliability_figure(view: RunView) -> str | None:
    """One reliability diagram of the emotion models on the clean test set (first seed), ECE in the legend."""
    import matplotlib  # deferred: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib

    clean = _clean_rows(view)
    emotion = clean[clean["metric"] == ECE]
    if not len(emotion) or not view.seeds:
        return None
    corruption, level = str(emotion["corruption"].iloc[0]), str(emotion["level"].iloc[0])
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    for row in emotion.itertuples():
        data = predictions.load(predictions.path(view.directory, str(row.model), view.seeds[0], corruption))
        index = [str(lv) for lv in data["levels"]].index(level)
        curve = reliability_curve(data["targets"], data["outputs"][index])
        seen = curve.count > 0
        ax.plot(curve.confidence[seen], curve.accuracy[seen], marker="o", markersize=3,
                label=f"{row.model} (ECE {row.value:.3f})")
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency of the emotion")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"reliability, clean test set, seed {view.seeds[0]}")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)


def _training_section(view: RunView) -> str:
    """Per task × corruption of a run with training protocols: the architecture-vs-training table and the model ×
    protocol heatmap ('' for a run without protocols)."""
    blocks = []
    for (task, corruption), group in training_grids(view.summary):
        table = training_table(task, corruption, group, view.info.checkpoint_hashes or {})
        figure = _img(_png(heatmap(task, corruption, group)), f"{corruption} {task} architecture × training heatmap")
        blocks.append(f'<div class="training">{_table_block(table)}<figure>{figure}<figcaption>The ranking summary '
                      "of every architecture under every training protocol (a protocol changes training only: "
                      "every cell is evaluated on the same clips under the same masks).</figcaption></figure></div>")
    return "".join(blocks)


def _provenance(view: RunView) -> str:
    entries = []
    for key, value in view.info.as_dict().items():
        shown = value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True)
        entries.append(f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(shown))}</dd>")
    return f'<dl class="provenance">{"".join(entries)}</dl>'


def _status(view: RunView) -> str:
    if view.complete:
        return "finished"
    return f"unfinished: {len(view.done)} of {view.expected} model × corruption evaluations done (shown below)"


def report_html(view: RunView) -> str:
    """The complete page for one run."""
    title = f"avbench run {view.directory.name}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">{html.escape(_status(view))}. Dataset {html.escape(view.dataset)}; command: '
             f"<code>{html.escape(str(view.info.command or ''))}</code></p>"]
    if len(view.summary):
        figures = _curve_figures(view)
        ranked = []
        tables = summary_tables(view.summary)
        for table, ((task, corruption, training), _) in zip(tables, summary_groups(view.summary)):
            figure = figures.get((corruption, task, training))
            picture = (f"<figure>{_img(figure, f'{corruption} curves')}<figcaption>Seed-mean curves of the ranking "
                       "metric against the level; the band is the 95 % interval.</figcaption></figure>"
                       if figure else "")
            ranked.append(f'<div class="ranked">{_table_block(table)}{picture}</div>')
        footnote = "".join(f'<p class="note">{html.escape(note)}</p>' for note in shared_notes(tables))
        parts.append(_section("Ranked tables and curves", "".join(ranked) + footnote))
        training = _training_section(view)
        if training:
            parts.append(_section("Architecture vs training", training))
        per_class = per_class_tables(view)
        if per_class:
            parts.append(_section("Per-class scores", "".join(_table_block(t) for t in per_class)))
        reliability = reliability_figure(view)
        if reliability:
            parts.append(_section("Reliability diagram", f"<figure>{_img(reliability, 'reliability diagram')}"
                                  "<figcaption>Mean predicted probability against how often the emotion is present "
                                  "(vote share above 1/C), 15 equal-width bins as in ECE.</figcaption></figure>"))
    else:
        parts.append('<p class="note">Nothing is evaluated yet.</p>')
    parts.append(run_section(view.directory))  # `avbench compare-loss --run` made inside this run, if it was
    parts.append(_section("Provenance (run.json)", _provenance(view)))
    return page(title, "".join(parts))


def write_report(directory: Path) -> Path:
    """Write ``report.html`` into the run directory (atomically) and return its path."""
    path = Path(directory) / "report.html"
    write_text(path, report_html(open_run(directory)))
    return path

