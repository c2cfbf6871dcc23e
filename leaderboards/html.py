"""The leaderboard as one static HTML page: sortable tables and the robustness curves as inline SVG.

The page must work offline and from a file, and must be safe to open when entries come from strangers: it loads
nothing (a Content-Security-Policy forbids every fetch), its only script is the inline sorter below, and every
string taken from an entry is HTML-escaped, so a model called ``<script>…`` is shown as text and never runs.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence

from avbench.leaderboards.board import Board
from avbench.leaderboards.render import board_table
from avbench.metric_specs import display
from avbench.tables import Cell, Num, cell_text

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

SORTER = """
document.querySelectorAll('table.board').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
        var nx = parseFloat(x), ny = parseFloat(y);
        if (x === '' || y === '') { return (x === '') - (y === ''); }  /* missing values always last */
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.board { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
table.board th, table.board td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }
table.board th { cursor: pointer; background: #f4f4f4; user-select: none; }
table.board th[aria-sort=ascending]::after { content: " ▲"; }
table.board th[aria-sort=descending]::after { content: " ▼"; }
table.board td:nth-child(2), table.board th:nth-child(2) { text-align: left; }
td.best { font-weight: bold; }
p.note { font-size: 0.8em; color: #555; max-width: 60em; }
svg text { font-size: 11px; fill: #333; }
"""


def _sort_key(cell: Cell) -> str:
    if isinstance(cell, Num):
        return "" if cell.value is None or not math.isfinite(cell.value) else repr(float(cell.value))
    if isinstance(cell, (int, float)):
        return repr(cell)
    return "" if cell in (None, "–") else str(cell)


def _table_html(board: Board, index: int) -> str:
    table = board_table(board)
    head = "".join(f"<th scope=\"col\">{html.escape(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for cell in row:
            best = ' class="best"' if isinstance(cell, Num) and cell.bold else ""
            cells.append(f"<td data-sort=\"{html.escape(_sort_key(cell))}\"{best}>{html.escape(cell_text(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in table.notes)
    return (f"<section id=\"board-{index}\"><h2>{html.escape(table.title)}</h2>"
            f"<table class=\"board\"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{notes}{curves_svg(board)}</section>")


def _ticks(low: float, high: float, n: int = 5) -> list[float]:
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def curves_svg(board: Board, width: int = 640, height: int = 320) -> str:
    """Each row's curve (primary metric against the level's x) as an inline SVG line chart; '' for no sweep."""
    series = [(row.entry.model.name, row.points) for row in board.rows if board.sweep and len(row.points) >= 2]
    if not series:
        return ""
    left, right, top, bottom = 56, 190, 12, 40
    xs = [p.x for _, pts in series for p in pts]
    ys = [p.value for _, pts in series for p in pts]
    x0, x1 = min(xs), max(xs)
    pad = (max(ys) - min(ys)) * 0.05 or 0.01
    y0, y1 = min(ys) - pad, max(ys) + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1.0) * plot_w

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / ((y1 - y0) or 1.0)) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(board.metric)} curves">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for tick in _ticks(x0, x1):
        parts.append(f'<text x="{sx(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle">{tick:g}</text>')
    for tick in _ticks(y0, y1):
        parts.append(f'<text x="{left - 6}" y="{sy(tick) + 4:.1f}" text-anchor="end">{tick:.3f}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">'
                 f'{html.escape(board.corruption)} level (x)</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.0f})">{html.escape(display(board.metric))}'
                 '</text>')
    for k, (name, points) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{sx(p.x):.1f},{sy(p.value):.1f}" for p in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}">'
                     f'<title>{html.escape(name)}</title></polyline>')
        parts.extend(f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.value):.1f}" r="2.2" fill="{colour}">'
                     f'<title>{html.escape(f"{name}: {p.level} = {p.value:.4f}")}</title></circle>' for p in points)
        ly = top + 14 * k + 8
        parts.append(f'<line x1="{width - right + 10}" y1="{ly}" x2="{width - right + 28}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 32}" y="{ly + 4}">{html.escape(name[:28])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def page(boards: Sequence[Board], title: str = "avbench leaderboards") -> str:
    """The complete, self-contained HTML document."""
    sections = "".join(_table_html(board, i) for i, board in enumerate(boards))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"note\">Click a column header to sort; click again to reverse. "
            "reported = copied from a paper; verified = recomputed by avbench from per-clip predictions.</p>"
            f"{sections}<script>{SORTER}</script></body></html>\n")
