"""One table model and its renderers: Markdown, LaTeX, CSV and HTML (:mod:`avbench.output.formats` names them).

Reports and leaderboards build a :class:`Table` of cells once; numbers stay numbers (:class:`Num`, with their
interval and the papers' significance markers) until a renderer formats them, so the CSV keeps full precision and
separate interval columns while Markdown and LaTeX print the papers' "0.777 (0.771, 0.782)" layout. Every string
that reaches a renderer is escaped for that format, because model names come from submitted entries.
"""
from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

@dataclass(frozen=True)
class Num:
    """A number with an optional interval and marker string (``*†``); ``bold`` marks the best of a column."""

    value: float | None
    low: float | None = None
    high: float | None = None
    markers: str = ""
    digits: int = 3
    bold: bool = False

    def _fmt(self, v: float | None) -> str:
        return "–" if v is None or not math.isfinite(v) else f"{v:.{self.digits}f}"

    def text(self) -> str:
        """``0.5723*† (0.5601, 0.5840)``: the papers' layout (markers on the number); '–' for a missing number."""
        if self.value is None:
            return self._fmt(None)
        out = self._fmt(self.value) + self.markers
        if self.low is not None and self.high is not None:
            out += f" ({self._fmt(self.low)}, {self._fmt(self.high)})"
        return out


Cell = Union[str, int, float, Num, None]


def cell_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Num):
        return cell.text()
    if isinstance(cell, float):
        return Num(cell).text()
    return str(cell)


@dataclass
class Table:
    """A titled grid of cells with footnotes; ``rows[i][j]`` belongs to ``columns[j]``."""

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} has {len(row)} cells for {len(self.columns)} columns")


def bold_best(rows: list[list[Cell]], column: int, lower_is_better: bool = False) -> None:
    """Mark the best number of ``column`` in bold, as the papers' tables do (ties are all bold)."""
    values = [row[column].value for row in rows if isinstance(row[column], Num) and row[column].value is not None]
    if not values:
        return
    best = min(values) if lower_is_better else max(values)
    for row in rows:
        cell = row[column]
        if isinstance(cell, Num) and cell.value is not None and round(cell.value, cell.digits) == round(best, cell.digits):
            row[column] = Num(cell.value, cell.low, cell.high, cell.markers, cell.digits, bold=True)


# -- Markdown -------------------------------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    """Escape what would change a Markdown table: pipes, HTML-ish brackets, emphasis and link syntax."""
    for ch in ("\\", "|", "*", "_", "`", "[", "]", "<", ">"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _md_cell(cell: Cell) -> str:
    text = _md_escape(cell_text(cell))
    return f"**{text}**" if isinstance(cell, Num) and cell.bold and cell.value is not None else text


def to_markdown(table: Table) -> str:
    lines = [f"### {_md_escape(table.title)}", ""] if table.title else []
    lines.append("| " + " | ".join(_md_escape(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows)
    for note in table.notes:
        lines.extend(["", _md_escape(note)])
    return "\n".join(lines) + "\n"


# -- LaTeX ----------------------------------------------------------------------------------------------------------
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
          "†": r"$^\dagger$", "–": "--", "Δ": r"$\Delta$", "α": r"$\alpha$", "·": r"$\cdot$", "×": r"$\times$",
          "≤": r"$\leq$", "≥": r"$\geq$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def _latex_cell(cell: Cell) -> str:
    text = latex_escape(cell_text(cell))
    return rf"\textbf{{{text}}}" if isinstance(cell, Num) and cell.bold and cell.value is not None else text


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(table.title)}}}",
             r"\begin{tabular}{" + "l" * min(1, len(table.columns)) + "c" * (len(table.columns) - 1) + "}",
             r"\toprule", " & ".join(latex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
    lines.extend(" & ".join(_latex_cell(c) for c in row) + r" \\" for row in table.rows)
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    lines.extend(rf"\par\footnotesize {latex_escape(note)}" for note in table.notes)
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# -- HTML ---------------------------------------------------------------------------------------------------------
def _sort_key(cell: Cell) -> str:
    if isinstance(cell, Num):
        return "" if cell.value is None or not math.isfinite(cell.value) else repr(float(cell.value))
    if isinstance(cell, (int, float)):
        return repr(cell)
    return "" if cell in (None, "–") else str(cell)


def to_html(table: Table, css_class: str = "board", row_attributes: Sequence[Mapping[str, str]] | None = None,
            extra_columns: Sequence[tuple[str, Sequence[tuple[str, str]]]] = ()) -> str:
    """An HTML ``<table>`` (title and notes are the page's business): every cell escaped, the best of a column in
    ``class="best"``, and a ``data-sort`` key per cell (the number, '' when missing) for a page's column sorter.

    A page may add ``row_attributes`` (``data-*`` attributes per row, escaped here, for its filters) and
    ``extra_columns``: (header, [(sort key, cell HTML)] per row) — HTML the page has built and escaped itself
    (links)."""
    head = "".join(f"<th scope=\"col\">{html.escape(c)}</th>" for c in [*table.columns, *(h for h, _ in extra_columns)])
    body = []
    for i, row in enumerate(table.rows):
        cells = []
        for cell in row:
            best = ' class="best"' if isinstance(cell, Num) and cell.bold and cell.value is not None else ""
            cells.append(f"<td data-sort=\"{html.escape(_sort_key(cell))}\"{best}>{html.escape(cell_text(cell))}</td>")
        cells += [f"<td data-sort=\"{html.escape(column[i][0])}\">{column[i][1]}</td>" for _, column in extra_columns]
        attributes = "".join(f" {html.escape(k)}=\"{html.escape(v)}\"" for k, v in (row_attributes[i].items()
                                                                                  if row_attributes else ()))
        body.append(f"<tr{attributes}>" + "".join(cells) + "</tr>")
    return (f"<table class=\"{html.escape(css_class)}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


# -- CSV ------------------------------------------------------------------------------------------------------------
def to_csv(table: Table) -> str:
    """Full-precision CSV: a number column gains ``_low``/``_high``/``_markers`` columns where any row has them."""
    with_ci = [any(isinstance(r[j], Num) and r[j].low is not None for r in table.rows) for j in range(len(table.columns))]
    with_markers = [any(isinstance(r[j], Num) and r[j].markers for r in table.rows) for j in range(len(table.columns))]
    header: list[str] = []
    for j, name in enumerate(table.columns):
        header.append(name)
        header.extend([f"{name}_low", f"{name}_high"] if with_ci[j] else [])
        header.extend([f"{name}_markers"] if with_markers[j] else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        out: list[object] = []
        for j, cell in enumerate(row):
            num = cell if isinstance(cell, Num) else None
            out.append(("" if num.value is None else repr(float(num.value))) if num else cell_text(cell))
            if with_ci[j]:
                out.extend(["" if num is None or num.low is None else repr(float(num.low)),
                            "" if num is None or num.high is None else repr(float(num.high))])
            if with_markers[j]:
                out.append(num.markers if num else "")
        writer.writerow(out)
    return buffer.getvalue()


def with_columns_after(table: Table, extra: dict[int, list[tuple[str, list[Cell]]]]) -> Table:
    """A copy of ``table`` with columns inserted after column ``j`` (``--compare-published`` puts each paper
    number beside the reproduced one this way)."""
    columns: list[str] = []
    rows: list[list[Cell]] = [[] for _ in table.rows]
    for j, name in enumerate(table.columns):
        columns.append(name)
        for i, row in enumerate(table.rows):
            rows[i].append(row[j])
        for title, cells in extra.get(j, []):
            columns.append(title)
            for i, cell in enumerate(cells):
                rows[i].append(cell)
    return Table(table.title, columns, rows, list(table.notes))
