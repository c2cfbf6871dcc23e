"""The leaderboard as one static HTML page: searchable, filterable, sortable tables, the robustness curves as
inline SVG, the paper and code links of every entry and a JSON download of the entries behind each board.

The page must work offline and from a file, and must be safe to open when entries come from strangers: it loads
nothing (a Content-Security-Policy forbids every fetch), its only scripts are the inline sorter, filter and
download below, every string taken from an entry is HTML-escaped (a model called ``<script>…`` is shown as text and
never runs), the embedded entries are JSON with ``<``, ``>`` and ``&`` escaped so no entry can close their script
element, and only ``http(s)`` code links and DOIs become links (never ``javascript:``).
"""
from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.corruptions import condition_name
from avbench.leaderboards.board import CLEAN_BOARD, Board, Row
from avbench.leaderboards.render import board_table
from avbench.scoring.metrics import display
from avbench.leaderboards.schema import Entry, MetricValue
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

FILTER = """
(function () {
  var form = document.getElementById('filters');
  var shown = document.getElementById('shown');
  var query = new URLSearchParams(window.location.search);
  Array.prototype.forEach.call(form.elements, function (field) {
    if (field.name && query.has(field.name)) { field.value = query.get(field.name); }
  });
  function apply() {
    var text = form.elements.model.value.trim().toLowerCase();
    var dataset = form.elements.dataset.value, corruption = form.elements.corruption.value;
    var provenance = form.elements.provenance.value;
    var rows = 0, total = 0, boards = 0;
    function wanted(element) {
      return (!text || element.getAttribute('data-model').indexOf(text) >= 0)
        && (!provenance || element.getAttribute('data-provenance') === provenance);
    }
    document.querySelectorAll('section.board').forEach(function (section) {
      var onBoard = (!dataset || section.getAttribute('data-dataset') === dataset)
        && (!corruption || section.getAttribute('data-corruption') === corruption);
      var visible = 0;
      section.querySelectorAll('tbody tr').forEach(function (row) {
        total += 1;
        row.hidden = !(onBoard && wanted(row));
        if (!row.hidden) { visible += 1; }
      });
      section.querySelectorAll('g.series').forEach(function (series) {
        series.style.display = wanted(series) ? '' : 'none';
      });
      section.hidden = !onBoard || visible === 0;
      rows += visible;
      if (!section.hidden) { boards += 1; }
    });
    shown.textContent = 'Showing ' + rows + ' of ' + total + ' rows on ' + boards + ' boards.';
  }
  form.addEventListener('input', apply);
  form.addEventListener('change', apply);
  form.addEventListener('submit', function (event) { event.preventDefault(); });
  apply();
}());
"""

DOWNLOAD = """
(function () {
  var entries = JSON.parse(document.getElementById('avbench-entries').textContent);
  document.querySelectorAll('a.download').forEach(function (link) {
    link.addEventListener('click', function () {
      var chosen = link.getAttribute('data-entries').split(' ').map(function (id) { return entries[id]; });
      if (link.href.indexOf('blob:') === 0) { URL.revokeObjectURL(link.href); }
      link.href = URL.createObjectURL(new Blob([JSON.stringify(chosen, null, 2) + '\\n'],
                                               {type: 'application/json'}));
    });
  });
}());
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
form#filters { display: flex; flex-wrap: wrap; gap: 0.6em 1.2em; align-items: end; margin: 1em 0; font-size: 0.9em; }
form#filters label { display: flex; flex-direction: column; gap: 0.2em; }
a.download { font-size: 0.85em; }
"""
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>,;]+)")


def _table_html(board: Board, index: int) -> str:
    table = board_table(board)
    notes = "".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in table.notes)
    chart = curves_svg(board) or scores_svg(board)
    figure = (f"<figure class=\"scroll\">{chart}<figcaption>{html.escape(_caption(board))}</figcaption></figure>"
              if chart else "")
    links = ("Paper, code", [links_html(row.entry) for row in board.rows])
    rows = [_row_attributes(row) for row in board.rows]
    ids = " ".join(dict.fromkeys(row.entry.id for row in board.rows))
    name = f"{board.dataset}-{board.task}-{board.corruption}-entries.json"
    download = (f"<p><a class=\"download\" href=\"#\" download=\"{html.escape(quote(name, safe='-_.'))}\" "
                f"data-entries=\"{html.escape(ids)}\">Download the {len(board.rows)} entries behind this board "
                "(JSON)</a></p>")
    return (f"<section id=\"board-{index}\" class=\"board\" data-dataset=\"{html.escape(board.dataset)}\" "
            f"data-task=\"{html.escape(board.task)}\" data-corruption=\"{html.escape(board.corruption)}\">"
            f"<h2>{html.escape(table.title)}</h2>"
            f"<div class=\"scroll\">{to_html(table, row_attributes=rows, extra_columns=[links])}</div>"
            f"{notes}{download}{figure}</section>")


def _row_attributes(row: Row) -> dict[str, str]:
    """What the filters match: the model's name and registry label (lower case) and the entry's provenance."""
    model = row.entry.model
    return {"data-model": " ".join(dict.fromkeys(n.lower() for n in (model.name, model.label or "") if n)),
            "data-provenance": row.entry.provenance}


def _series(row: Row) -> str:
    """The attributes of one model's marks in a chart, so the filters hide them with its table row."""
    return "".join(f' {k}="{html.escape(v)}"' for k, v in _row_attributes(row).items())


def safe_link(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) address, else None (an entry's ``javascript:`` never becomes a link)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def links_html(entry: Entry) -> tuple[str, str]:
    """(sort key, cell HTML): the paper (a doi.org link when its citation names a DOI; the full citation on hover)
    and the code the entry links to."""
    model = entry.model
    parts = []
    paper = model.paper or model.citation
    if paper:
        found = DOI.search(model.citation or "") or DOI.search(model.paper or "")
        title = html.escape(model.citation or model.paper)
        parts.append(f'<a href="https://doi.org/{html.escape(quote(found.group(1), safe="/.:;()-_"))}" '
                     f'title="{title}" rel="noopener noreferrer">{html.escape(paper)}</a>' if found
                     else f'<span title="{title}">{html.escape(paper)}</span>')
    code = safe_link(model.code)
    if code:
        parts.append(f'<a href="{html.escape(code)}" rel="noopener noreferrer">code</a>')
    return paper or "", " · ".join(parts) or "–"


def entries_json(boards: Sequence[Board]) -> str:
    """The entries behind the boards, once each (id → entry as stored), safe inside a ``<script>`` element."""
    entries = {row.entry.id: row.entry.to_dict() for board in boards for row in board.rows}
    text = json.dumps(entries, sort_keys=True, ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def filters_html(boards: Sequence[Board]) -> str:
    """The search box and the dataset, corruption and provenance filters (choices from the boards shown)."""
    def select(name: str, label: str, values: Sequence[str]) -> str:
        options = "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)
        return (f'<label>{html.escape(label)}<select name="{name}"><option value="">all</option>{options}'
                "</select></label>")

    datasets = sorted({b.dataset for b in boards})
    corruptions = sorted({b.corruption for b in boards})
    provenances = sorted({row.entry.provenance for b in boards for row in b.rows})
    return ('<form id="filters" role="search"><label>Model<input type="search" name="model" '
            'placeholder="name contains…" autocomplete="off"></label>'
            f"{select('dataset', 'Dataset', datasets)}{select('corruption', 'Corruption', corruptions)}"
            f"{select('provenance', 'Provenance', provenances)}</form><p id=\"shown\" class=\"note\"></p>")


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


def _legend(parts: list[str], names: Sequence[str], x: float, y: float, marker: str = "line",
            groups: Sequence[str] | None = None) -> None:
    """Whole names, one per line, with the series colour (a line, or a dot for point charts); ``groups``: each
    name's series attributes, so a filtered-out model leaves the legend too."""
    for k, name in enumerate(names):
        colour, ly = PALETTE[k % len(PALETTE)], y + LINE * k
        if groups is not None:
            parts.append(f'<g class="series"{groups[k]}>')
        parts.append(f'<line x1="{x}" y1="{ly}" x2="{x + 20}" y2="{ly}" stroke="{colour}" stroke-width="2.5"/>'
                     if marker == "line" else f'<circle cx="{x + 10}" cy="{ly}" r="4" fill="{colour}"/>')
        parts.append(f'<text x="{x + 26}" y="{ly + 4}">{html.escape(name)}</text>')
        if groups is not None:
            parts.append("</g>")


def x_label(corruption: str) -> str:
    return CORRUPTIONS.get(corruption).x_label if corruption in CORRUPTIONS else f"{corruption} level (x)"


def curves_svg(board: Board, width: int = 900, height: int = 460) -> str:
    """Each row's curve (primary metric against the level's x) with its 95 % band where the entry has intervals,
    ticks at the measured levels and a legend of whole names; '' when the board is not a sweep."""
    rows = [row for row in board.rows if board.sweep and len(row.points) >= 2]
    series = [(row.entry.model.name, row.points) for row in rows]
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
    for k, (row, (name, points)) in enumerate(zip(rows, series)):
        colour = PALETTE[k % len(PALETTE)]
        parts.append(f'<g class="series"{_series(row)}>')
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
        parts.append("</g>")
    _legend(parts, [name for name, _ in series], left + plot_w + 16, top + 8, groups=[_series(row) for row in rows])
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
        parts.append(f'<g class="series"{_series(row)}>')
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
        parts.append("</g>")
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
            f"<h1>{html.escape(title)}</h1><p class=\"note\">Search a model by name and filter the boards by dataset, "
            "corruption and provenance (or open the page with ?model=raver&amp;dataset=crema-d). Click a column "
            "header to sort; click again to reverse. reported = copied from a paper; verified = recomputed by avbench "
            "from per-clip predictions.</p>"
            f"{filters_html(boards)}{sections}"
            f"<script type=\"application/json\" id=\"avbench-entries\">{entries_json(boards)}</script>"
            f"<script>{SORTER}</script><script>{FILTER}</script><script>{DOWNLOAD}</script></body></html>\n")
