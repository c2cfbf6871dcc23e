"""The output formats, one registry: every command's ``--format`` choices, file suffixes and renderers come from here.

A format renders what avbench prints: ranked :class:`~avbench.output.tables.Table` objects (leaderboards, reports,
comparisons), listings (``avbench list``: records with native values) and documents (``show``, ``compare``,
``leaderboard``, ``datasets info``: the Python API's objects as plain data, with its field names). ``table`` is the
terminal's own format: a rich table that folds cells instead of cutting them, printed by the caller's console. Adding a format is one
:func:`register_format` call at the end of this module; ``--format`` of every command that can use it then offers
it, and ``avbench report`` writes a file with its suffix.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from avbench.errors import unknown
from avbench.output.tables import Cell, Num, Table, to_csv, to_html, to_latex, to_markdown

Record = dict[str, Any]
TABLES, RECORDS, DOCUMENTS = "tables", "records", "documents"  # what a command renders


@dataclass(frozen=True)
class OutputFormat:
    """One format: its name (the ``--format`` value), file suffix, and how it renders tables, records and
    documents (None: it cannot). ``report_file``: ``avbench report`` writes every table in it."""

    name: str
    suffix: str
    description: str
    table: Callable[[Table], str] | None = None
    records: Callable[[Sequence[Record]], str] | None = None
    document: Callable[[Any], str] | None = None
    report_file: bool = False

    def tables(self, tables: Sequence[Table]) -> str:
        """Several tables as one document (CSV tables each under a ``# title`` line)."""
        if self.table is None:
            raise unknown("table format", self.name, names(TABLES))
        if self.name == "csv":
            return "\n".join(f"# {t.title}\n{self.table(t)}" for t in tables)
        if self.document is not None:  # one document holding every table (JSON: a list)
            return self.document([table_record(t) for t in tables])
        return "\n".join(self.table(t) for t in tables)


_FORMATS: dict[str, OutputFormat] = {}


def register_format(fmt: OutputFormat) -> str:
    """Declare a format and return its name."""
    if fmt.name in _FORMATS and _FORMATS[fmt.name] != fmt:
        raise ValueError(f"output format {fmt.name!r} is already declared differently")
    _FORMATS[fmt.name] = fmt
    return fmt.name


def names(kind: str) -> list[str]:
    """The formats that can render ``kind`` (:data:`TABLES`, :data:`RECORDS` or :data:`DOCUMENTS`), in declaration
    order; the terminal's table renders records and documents (each command draws its own)."""
    renderer = {TABLES: "table", RECORDS: "records", DOCUMENTS: "document"}[kind]
    return [f.name for f in _FORMATS.values() if getattr(f, renderer) is not None
            or (kind != TABLES and f.name == TERMINAL)]


def get(name: str, kind: str, option: str = "--format") -> OutputFormat:
    """The format ``name``, which must render ``kind``; an unknown or unfit one is one error line."""
    if name not in names(kind):
        raise unknown(option, name, names(kind))
    return _FORMATS[name]


def render_data(name: str, document: Any, rows: Sequence[Record] | None = None,
                option: str = "--format") -> str | None:
    """A command's data in format ``name``: the whole ``document`` where the format renders documents (JSON), else
    its ``rows`` as records (CSV, Markdown); None for the terminal's table, which the command prints itself. The
    command's choices are ``names(RECORDS)`` when it has rows, ``names(DOCUMENTS)`` when it has none."""
    chosen = get(name, DOCUMENTS if rows is None else RECORDS, option)
    if chosen.name == TERMINAL:
        return None
    if chosen.document is not None:
        return chosen.document(document)
    return chosen.records(list(rows or []))  # type: ignore[misc]


def report_formats() -> list[OutputFormat]:
    """The formats ``avbench report`` writes a table in."""
    return [f for f in _FORMATS.values() if f.report_file and f.table is not None]


def help_text(kind: str) -> str:
    """``md | csv | latex``: the choices of a ``--format`` option, for its help."""
    return " | ".join(names(kind))


# -- renderers that are not tables' own ------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A cell as JSON: a number with its interval and markers as an object, other cells as they are."""
    if isinstance(value, Num):
        number = None if value.value is None or not math.isfinite(value.value) else float(value.value)
        if value.low is None and value.high is None and not value.markers:
            return number
        return {"value": number, "ci_low": value.low, "ci_high": value.high, "markers": value.markers}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def table_record(table: Table) -> Record:
    """A table as ``{"title", "columns", "rows": [{column: value}], "notes"}``."""
    rows = [{column: _plain(cell) for column, cell in zip(table.columns, row)} for row in table.rows]
    return {"title": table.title, "columns": table.columns, "rows": rows, "notes": table.notes}


def table_json(table: Table) -> str:
    return json.dumps(table_record(table), indent=2, ensure_ascii=False)


def records_json(records: Sequence[Record]) -> str:
    """Every column with its native type, as ``pip list --format json`` does."""
    return json.dumps(list(records), indent=2, ensure_ascii=False) + "\n"


def frame_records(frame: Any) -> list[Record]:
    """A pandas DataFrame's rows as records for a document or a records format: native numbers, and missing values
    (NaN, the blank cells of summary.csv) as None."""
    return [{str(key): _native(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]


def _native(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # a numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and value == "":
        return None
    return value


def document_json(document: Any) -> str:
    """Any plain data (objects, lists, numbers, text), missing numbers as null."""
    return json.dumps(_finite(document), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def records_csv(records: Sequence[Record]) -> str:
    """One row per record; list values joined by commas."""
    columns = list(dict.fromkeys(key for record in records for key in record))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in record.items()})
    return buffer.getvalue()


def records_markdown(records: Sequence[Record]) -> str:
    columns = list(dict.fromkeys(key for record in records for key in record))
    rows: list[list[Cell]] = [[", ".join(map(str, v)) if isinstance(v, list) else v for v in
                               (record.get(c, "") for c in columns)] for record in records]
    return to_markdown(Table("", columns, rows))


TERMINAL = "table"

# -- the declarations ------------------------------------------------------------------------------------------------
register_format(OutputFormat(TERMINAL, "", "a table for people on the terminal (cells fold, never cut)"))
register_format(OutputFormat("md", ".md", "Markdown", to_markdown, records_markdown, report_file=True))
register_format(OutputFormat("csv", ".csv", "CSV with full precision", to_csv, records_csv, report_file=True))
register_format(OutputFormat("latex", ".tex", "LaTeX tabular", to_latex, report_file=True))
register_format(OutputFormat("html", ".html", "an HTML table", to_html))
register_format(OutputFormat("json", ".json", "JSON with native types", table_json, records_json,
                             document=document_json))
