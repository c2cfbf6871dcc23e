"""Console output that people can read in a terminal *and* in a log file.

Rich sizes its output to the terminal, and to 80 columns (or ``$COLUMNS``) when the output is a file or a pipe,
cutting table cells with "…". A ranking whose model names read ``align-…`` cannot be read, and ``avbench list
models | grep align-multiscalew`` finds nothing. So, off a terminal, :class:`ReadableConsole` renders at the
natural width of what it prints (nothing is wrapped or cut), and :func:`readable_table` folds cells that do not
fit a narrow terminal instead of cutting them. Progress of long commands is a live bar on a terminal and, in a log,
one plain line every ``AVBENCH_PROGRESS_SECONDS`` seconds (default 30) plus the first and the last.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from avbench.output.tables import Num, cell_text

PROGRESS_ENV = "AVBENCH_PROGRESS_SECONDS"  # ``avbench --progress-seconds``
PROGRESS_SECONDS = 30.0  # off a terminal, one progress line this often unless PROGRESS_ENV says otherwise
NATURAL_WIDTH = 100_000  # wider than any table: off a terminal, tables take their natural width
GROUP = "group"  # a ranked table's column of significance groups (avbench.scoring.ranking): a rule between groups


class ReadableConsole(Console):
    """A rich console that never narrows its output when it is not writing to a terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(NATURAL_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def console(stderr: bool = False) -> ReadableConsole:
    """The console every command prints through (stdout for results, stderr for progress and messages)."""
    return ReadableConsole(stderr=stderr)


def readable_table(*columns: str, title: str | None = None, right: tuple[str, ...] = (), **kwargs: Any) -> Table:
    """A rich table whose cells fold onto a second line on a narrow terminal rather than being cut with '…'."""
    table = Table(title=title, **kwargs)
    for name in columns:
        table.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return table


def add_plain_row(table: Table, *cells: str) -> None:
    """Add cells as literal text: a label such as ``raver[n_ctx=16]`` is not rich markup and must print whole."""
    table.add_row(*(Text(cell) for cell in cells))


def print_table(out: Console, table: Any) -> None:
    """Print an :class:`avbench.output.tables.Table`: its title as a line of its own (a rich title would wrap at the
    table's width and split a phrase someone greps for), then the cells."""
    if table.title:
        out.print(table.title, style="bold", markup=False, highlight=False, soft_wrap=True)
    out.print(rich_table(table))


def rich_table(table: Any) -> Table:
    """An :class:`avbench.output.tables.Table` for the terminal (untitled): numbers right-aligned, every cell whole
    (folded, not cut)."""

    numeric = tuple(name for j, name in enumerate(table.columns)
                    if table.rows and all(isinstance(r[j], (Num, int, float)) or r[j] in (None, "", "–")
                                          or (isinstance(r[j], str) and r[j].isdigit()) for r in table.rows))
    out = readable_table(*table.columns, right=numeric)
    group = table.columns.index(GROUP) if GROUP in table.columns else None
    for i, row in enumerate(table.rows):
        if group is not None and i and row[group] != table.rows[i - 1][group]:
            out.add_section()  # a rule between groups of models that are not significantly apart
        add_plain_row(out, *(cell_text(cell) for cell in row))
    return out


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class PlainProgress:
    """Progress as plain lines for logs: ``run: 12/40 (30 %) · 1m12s elapsed · about 2m48s left · <description>``."""

    def __init__(self, out: Console, name: str, total: int | None, interval: float) -> None:
        self.out, self.name, self.total, self.interval = out, name, total, interval
        self.completed = 0
        self.description = ""
        self.started = time.monotonic()
        self.last_line = -float("inf")
        self.printed: tuple[Any, ...] | None = None

    def state(self) -> tuple[Any, ...]:
        return self.completed, self.total, self.description

    def update(self, completed: int | None = None, advance: int = 0, total: int | None = None,
               description: str | None = None) -> None:
        self.completed = (self.completed if completed is None else completed) + advance
        self.total = self.total if total is None else total
        self.description = self.description if description is None else description
        if time.monotonic() - self.last_line >= self.interval:
            self.line()

    def line(self) -> None:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.name}: {self.completed}" + (f"/{self.total}" if self.total else "")]
        if self.total:
            parts[0] += f" ({100 * self.completed / self.total:.0f} %)"
        parts.append(f"{_duration(elapsed)} elapsed")
        if self.total and 0 < self.completed < self.total:
            parts.append(f"about {_duration(elapsed * (self.total - self.completed) / self.completed)} left")
        if self.description:
            parts.append(self.description)
        self.out.print(" · ".join(parts), markup=False, highlight=False, soft_wrap=True)
        self.last_line = time.monotonic()
        self.printed = self.state()


class LiveProgress:
    """The live rich bar, behind the same ``update`` call as :class:`PlainProgress`."""

    def __init__(self, bar: Progress, name: str, total: int | None) -> None:
        self.bar, self.name = bar, name
        self.task = bar.add_task(name, total=total)

    def update(self, completed: int | None = None, advance: int = 0, total: int | None = None,
               description: str | None = None) -> None:
        self.bar.update(self.task, completed=completed, advance=advance or None, total=total,
                        description=None if description is None else f"{self.name}: {description}")


@contextmanager
def progress(out: Console, name: str, total: int | None = None,
             enabled: bool = True) -> Iterator[PlainProgress | LiveProgress]:
    """Report progress of ``total`` steps: a live bar on a terminal, periodic plain lines elsewhere."""
    if out.is_terminal or not enabled:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn())
        with Progress(*columns, console=out, disable=not enabled) as bar:
            yield LiveProgress(bar, name, total)
        return
    plain = PlainProgress(out, name, total, float(os.environ.get(PROGRESS_ENV) or PROGRESS_SECONDS))
    plain.line()
    yield plain
    if plain.printed != plain.state():
        plain.line()
