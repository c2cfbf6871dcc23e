"""The layout most paper tables share: one row per model, one column per metric × condition, best in bold,
and with ``--compare-published`` the paper's number beside each reproduced one."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from avbench.scoring.metrics import higher_is_better
from avbench.reports.base import Context
from avbench.reports.published import published
from avbench.output.tables import Cell, Num, Table, bold_best, with_columns_after

DISPLAY = {"tlstm": "TLSTM", "sfav": "SFAV", "mult": "MuT", "auxformer": "AuxFormer", "vavl": "VAVL",
           "raver": "RAVER", "fer": "FER", "ser": "SER", "mdre-gru": "MDRE-GRU", "mdrea-gru": "MDREA-GRU",
           "align-vw": "Align-VW", "align-fw": "Align-FW", "align-multiscalew": "Align-MultiScaleW",
           "align-vw-ser": "Align-VW", "align-fw-ser": "Align-FW", "align-multiscalew-ser": "Align-MultiScaleW"}
PAPER_DATASETS = {"crema-d": "CREMA-D", "msp-improv": "MSP-IMPROV", "msp-podcast": "MSP-Podcast"}


@dataclass(frozen=True)
class Col:
    """One column: ``metric`` at ``corruption``/``level`` (``None`` = the clean level); ``only`` limits it to
    some models (the others print '–', as in RAVER Table 3)."""

    title: str
    metric: str
    corruption: str
    level: str | None = None
    only: tuple[str, ...] | None = None


def model_table(ctx: Context, title: str, models: Sequence[str], cols: Sequence[Col], paper_datasets: Sequence[str],
                digits: int = 3, markers: dict[tuple[str, str], str] | None = None) -> Table:
    """Rows = ``models`` in the paper's order, reproduced numbers with their intervals (and markers)."""
    markers = markers or {}
    rows: list[list[Cell]] = []
    for model in models:
        row: list[Cell] = [DISPLAY.get(model, model)]
        for col in cols:
            if col.only is not None and model not in col.only:
                row.append(Num(None, digits=digits))
                continue
            num = ctx.results.num(model, col.corruption, col.level, col.metric, digits)
            row.append(Num(num.value, num.low, num.high, markers.get((model, col.title), ""), digits))
        rows.append(row)
    for j, col in enumerate(cols, start=1):
        bold_best(rows, j, lower_is_better=not higher_is_better(col.metric))
    table = Table(title, ["Model", *(c.title for c in cols)], rows, list(ctx.notes))
    if not ctx.compare_published:
        return table
    extra = {j: [(f"{col.title} (paper, {PAPER_DATASETS.get(d, d)})",
                  [published(m, d, col.corruption, col.level, col.metric, digits)
                   if col.only is None or m in col.only else Num(None, digits=digits) for m in models])
                 for d in paper_datasets]
             for j, col in enumerate(cols, start=1)}
    return with_columns_after(table, extra)
