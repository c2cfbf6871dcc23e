"""A self-contained HTML page, the look every report page shares (``report.html``, ``compare-loss``): inline style,
figures as data URIs, and a content-security policy that forbids every fetch and script, so a page opens offline
and can be trusted whatever a submitted entry's names contain."""
from __future__ import annotations

import html

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 90em; }
table.board { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
table.board th, table.board td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }
table.board th { background: #f4f4f4; }
table.board td:nth-child(-n+2), table.board th:nth-child(-n+2) { text-align: left; }
td.best { font-weight: bold; }
.scroll { overflow-x: auto; max-width: 100%; }
p.note, figcaption { font-size: 0.85em; color: #555; max-width: 60em; }
img.figure { max-width: 100%; height: auto; }
dl.provenance { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.85em; }
dl.provenance dt { font-weight: 600; } dl.provenance dd { margin: 0; white-space: pre-wrap; font-family: monospace; }
"""


def page(title: str, body: str) -> str:
    """The whole document: ``body`` (already escaped HTML) under ``title``, with the shared style."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n")
