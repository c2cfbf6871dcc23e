"""The leaderboard as one static HTML page: sortable tables and the robustness curves as inline SVG.

The page must work offline and from a file, and must be safe to open when entries come from strangers: it loads
nothing (a Content-Security-Policy forbids every fetch), its only script is the inline sorter below, and every
string taken from an entry is HTML-escaped, so a model called ``<script>…`` is shown as text and never runs.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.corruptions import condition_name
from avbench.leaderboards.board import CLEAN_BOARD, Board, Row
from avbench.leaderboards.render import board_table
from avbench.scoring.metrics import display
from avbench.leaderboards.schema import MetricValue
from avbench.output.tables import to_html

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
svg text { font-size: 12px; fill: #333; font-family: system-ui, sans-serif; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 1em 0 2.5em 0; }
figcaption { font-size: 0.8em; color: #555; max-width: 60em; }
"""


def _table_html(board: Board, index: int) -> str:
    table = board_table(board)
    notes = "".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in table.notes)
    chart = curves_svg(board) or scores_svg(board)
    figure = (f"<figure class=\"scroll\">{chart}<figcaption>{html.escape(_caption(board))}</figcaption></figure>"
              if chart else "")
    return (f"<section id=\"board-{index}\"><h2>{html.escape(table.title)}</h2>"
            f"<div class=\"scroll\">{to_html(table)}</div>{notes}{figure}</section>")


def _caption(board: Board) -> str:
    metric = display(board.metric)
    if board.sweep:
        return (f"{metric} against {x_label(board.corruption)}, one curve per model; shaded bands are the 95 % "
                "intervals where the entry has them. Hover a point for its level and value.")
    return f"{metric} per model with its 95 % interval (whiskers), in board order."


CHAR_WIDTH = 7.2  # px per character of the 12 px chart font, generous so that no name is ever clipped
LINE = 18  # px per legend line


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) inside [low, high]."""
    span = (high - low) or abs(high) or 1.0
    step = 10 ** math.floor(math.log10(span / count))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if span / (step * m) <= count)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _text_width(text: str) -> float:
    return CHAR_WIDTH * len(text)


def _open_svg(width: float, height: float, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{html.escape(label)}">')


def _y_axis(parts: list[str], ticks: list[float], sy, left: float, right: float, label: str, mid: float) -> None:
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{right:.1f}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="16" y="{mid:.0f}" text-anchor="middle" transform="rotate(-90 16 {mid:.0f})">'
                 f'{html.escape(label)}</text>')


def _legend(parts: list[str], names: Sequence[str], x: float, y: float, marker: str = "line") -> None:
    """Whole names, one per line, with the series colour (a line, or a dot for point charts)."""
    for k, name in enumerate(names):
        colour, ly = PALETTE[k % len(PALETTE)], y + LINE * k
        parts.append(f'<line x1="{x}" y1="{ly}" x2="{x + 20}" y2="{ly}" stroke="{colour}" stroke-width="2.5"/>'
                     if marker == "line" else f'<circle cx="{x + 10}" cy="{ly}" r="4" fill="{colour}"/>')
        parts.append(f'<text x="{x + 26}" y="{ly + 4}">{html.escape(name)}</text>')


def x_label(corruption: str) -> str:
    return CORRUPTIONS.get(corruption).x_label if corruption in CORRUPTIONS else f"{corruption} level (x)"


def curves_svg(board: Board, width: int = 900, height: int = 460) -> str:
    """Each row's curve (primary metric against the level's x) with its 95 % band where the entry has intervals,
    ticks at the measured levels and a legend of whole names; '' when the board is not a sweep."""
    series = [(row.entry.model.name, row.points) for row in board.rows if board.sweep and len(row.points) >= 2]
    if not series:
        return ""
    legend_w = 40 + max(_text_width(name) for name, _ in series)
    left, top, bottom = 64, 14, 48
    height = max(height, top + LINE * len(series) + bottom)
    width = int(width + legend_w)
    plot_w, plot_h = width - left - legend_w - 16, height - top - bottom
    xs = sorted({p.x for _, pts in series for p in pts})
    ys = [v for _, pts in series for p in pts for v in (p.value, p.ci_low, p.ci_high) if v is not None]
    pad = (max(ys) - min(ys)) * 0.05 or 0.01
    y_ticks = nice_ticks(min(ys) - pad, max(ys) + pad)
    y0, y1 = min(ys) - pad, max(ys) + pad
    x0, x1 = xs[0], xs[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1.0) * plot_w

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / ((y1 - y0) or 1.0)) * plot_h

    metric = display(board.metric)
    parts = [_open_svg(width, height, f"{metric} against {x_label(board.corruption)}")]
    _y_axis(parts, y_ticks, sy, left, left + plot_w, metric, top + plot_h / 2)
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w:.1f}" height="{plot_h:.1f}" fill="none" stroke="#999"/>')
    last_label = -math.inf
    for x in xs:  # a tick at every level; labels skipped where they would overlap
        parts.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top + plot_h:.1f}" y2="{top + plot_h + 5:.1f}" '
                     'stroke="#666" class="level-tick"/>')
        if sx(x) - last_label >= 34:
            parts.append(f'<text x="{sx(x):.1f}" y="{top + plot_h + 18:.1f}" text-anchor="middle">{x:.3g}</text>')
            last_label = sx(x)
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
                 f'{html.escape(x_label(board.corruption))}</text>')
    for k, (name, points) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        banded = [p for p in points if p.ci_low is not None and p.ci_high is not None]
        if len(banded) >= 2:
            outline = [(p.x, p.ci_high) for p in banded] + [(p.x, p.ci_low) for p in banded[::-1]]
            parts.append(f'<polygon class="band" fill="{colour}" fill-opacity="0.12" stroke="none" points="'
                         + " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in outline) + '"/>')
        path = " ".join(f"{sx(p.x):.1f},{sy(p.value):.1f}" for p in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                     f'<title>{html.escape(name)}</title></polyline>')
        parts.extend(f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.value):.1f}" r="3" fill="{colour}">'
                     f'<title>{html.escape(f"{name}: {p.level} = {p.value:.4f}")}</title></circle>' for p in points)
    _legend(parts, [name for name, _ in series], left + plot_w + 16, top + 8)
    parts.append("</svg>")
    return "".join(parts)


def _conditions(board: Board) -> list[str]:
    """The conditions a score chart shows: the clean score alone, or every category of a categorical board."""
    return ["clean"] if board.corruption == CLEAN_BOARD else [label for label, _ in board.levels]


def _score(row: Row, board: Board, condition: str) -> MetricValue | None:
    if board.corruption == CLEAN_BOARD:
        return row.clean
    return next((p for p in row.points if p.level == condition), None)


def scores_svg(board: Board, width: int = 900) -> str:
    """Clean and whole-modality boards as a dot chart: one line per model (board order), one dot per condition,
    whiskers for the 95 % intervals; '' for a sweep (it has curves)."""
    if board.sweep:
        return ""
    conditions = _conditions(board)
    rows = [row for row in board.rows if any(_score(row, board, c) is not None for c in conditions)]
    values = [v for row in rows for c in conditions if (m := _score(row, board, c)) is not None
              for v in (m.value, m.ci_low, m.ci_high) if v is not None]
    if not values:
        return ""
    names = [row.entry.model.name for row in rows]
    titles = [condition_name(board.corruption, c) for c in conditions]
    left = 16 + max(_text_width(name) for name in names)
    legend_w = 40 + max(_text_width(t) for t in titles) if len(conditions) > 1 else 0
    row_h, top, bottom = max(24, 12 + 9 * len(conditions)), 14, 44
    height = max(top + row_h * len(rows) + bottom, top + LINE * len(conditions) + bottom)
    width = int(width + legend_w)
    plot_w = width - left - legend_w - 16
    pad = (max(values) - min(values)) * 0.04 or 0.01
    ticks = nice_ticks(min(values) - pad, max(values) + pad)
    v0, v1 = min(values) - pad, max(values) + pad

    def sx(v: float) -> float:
        return left + (v - v0) / ((v1 - v0) or 1.0) * plot_w

    metric = display(board.metric)
    parts = [_open_svg(width, height, f"{metric} per model")]
    plot_bottom = top + row_h * len(rows)
    for tick in ticks:
        parts.append(f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{top}" y2="{plot_bottom}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{sx(tick):.1f}" y="{plot_bottom + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
                 f'{html.escape(metric)} with 95 % interval</text>')
    for i, (row, name) in enumerate(zip(rows, names)):
        centre = top + row_h * (i + 0.5)
        parts.append(f'<text x="{left - 8:.1f}" y="{centre + 4:.1f}" text-anchor="end">{html.escape(name)}</text>')
        for k, condition in enumerate(conditions):
            found = _score(row, board, condition)
            if found is None:
                continue
            colour, y = PALETTE[k % len(PALETTE)], centre + 9 * (k - (len(conditions) - 1) / 2)
            if found.ci_low is not None and found.ci_high is not None:
                parts.append(f'<line class="interval" x1="{sx(found.ci_low):.1f}" x2="{sx(found.ci_high):.1f}" '
                             f'y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>')
            label = f"{name}, {titles[k]}: {found.value:.4f}"
            parts.append(f'<circle class="score" cx="{sx(found.value):.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                         f'<title>{html.escape(label)}</title></circle>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w:.1f}" height="{row_h * len(rows)}" fill="none" '
                 'stroke="#999"/>')
    if len(conditions) > 1:
        _legend(parts, titles, left + plot_w + 16, top + 8, marker="dot")
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
