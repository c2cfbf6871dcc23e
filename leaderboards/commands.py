"""Plain functions ready to be mounted as typer commands: ``avbench leaderboard`` and ``avbench submit``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from avbench import validate
from avbench.atomic import write_text
from avbench.output import choices, formats, terminal

README = Path(__file__).resolve().parent / "README.md"


def render(fmt: str, dataset: str | None = None, corruption: str | None = None,
           entries: Path | None = None) -> str:
    """The leaderboard document in ``fmt``: Markdown is the full README page, HTML the static sortable page."""
    # deferred: boards pull in the model registry (torch) and the summariser, which every other subcommand
    # (`avbench run` first of all) would otherwise pay for when the CLI starts
    from avbench.leaderboards.board import build_boards  # deferred: torch, scipy
    from avbench.leaderboards.html import page  # deferred: matplotlib
    from avbench.leaderboards.render import readme, render_boards  # deferred: torch
    from avbench.leaderboards.schema import load_entries  # deferred: torch

    chosen = formats.get(fmt, formats.TABLES)
    boards = build_boards(load_entries(entries), dataset, corruption)
    if chosen.document is not None:  # JSON: the boards as data (Board.to_dict), not their printed tables
        return chosen.document([board.to_dict() for board in boards])
    if fmt == "md":
        return readme(boards)
    if fmt == "html":
        return page(boards)
    return render_boards(boards, fmt)


def write_readme(entries: Path | None = None, path: Path = README) -> Path:
    """Regenerate ``leaderboards/README.md`` from the entries."""
    write_text(path, render("md", entries=entries))
    return path


def leaderboard(
    dataset: Optional[str] = typer.Option(None, "--dataset", help="only this dataset (e.g. crema-d, synthetic)"),
    corruption: Optional[str] = typer.Option(None, "--corruption", help="only this board: a corruption or 'clean'"),
    fmt: str = typer.Option("md", "--format", help="md: the README page; html: the searchable page; json: the "
                                                    "boards as data (Board.to_dict)", **choices.format_choice(formats.TABLES)),
    out: Optional[str] = typer.Option(None, "--out", help="write to this file instead of printing"),
    entries: Optional[Path] = typer.Option(None, "--entries", help="entries directory (default: the shipped one)"),
) -> None:
    """Ranked leaderboards from the entries: clean score, robustness area, relative/effective robustness, Brier,
    per-emotion F1, intervals and significance against the top."""
    target = validate.output_file(out)
    text = render(fmt, dataset, corruption, entries)
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_text(target, text)
        typer.echo(f"written: {target}")


def submit(
    path: Path = typer.Argument(..., help="run directory written by `avbench run`"),
    claimed: Optional[Path] = typer.Option(None, "--claimed",
                                           help="claimed numbers (CSV like results.csv, or JSON); default: the run's "
                                                "results.csv"),
    entries: Optional[Path] = typer.Option(None, "--entries", help="where to write the entry (default: the shipped "
                                                                    "leaderboards/entries)"),
    store: Optional[Path] = typer.Option(None, "--store", help="feature store of a non-embedded dataset, to recompute "
                                                                "its protocol"),
    replace_existing: bool = typer.Option(False, "--replace", help="overwrite entries that already exist (any "
                                                                    "entry, verified or reported, needs it)"),
) -> list[Path]:
    """Verify a submission: re-infer a sample of every predictions file from its checkpoint, recompute every metric
    from the per-clip predictions, check the protocol; write verified entries."""
    from avbench.leaderboards.submit import submit_run  # deferred: pydantic, safetensors, scipy, torch

    written = submit_run(path, claimed, entries, store, replace_existing)
    for p in written:
        typer.echo(f"verified entry written: {p}")
    return written


def verify(
    entry: str = typer.Argument(..., help="an entry file, or the label of a verified entry in --entries"),
    entries: Optional[Path] = typer.Option(None, "--entries", help="entries directory (default: the shipped one)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where the re-run goes (default runs/verify-<entry>)"),
    seed_list: Optional[str] = typer.Option(None, "--seed-list", help="seeds to re-run (default: the entry's)"),
    corruption: Optional[str] = typer.Option(None, "--corruption", help="NAME[,NAME]: only these of the entry's "
                                                                        "corruptions (default: all of them)"),
    retrain: bool = typer.Option(False, "--retrain", help="train every seed again in a scratch cache instead of "
                                                          "reusing this machine's cached checkpoints"),
    store: Optional[Path] = typer.Option(None, "--store", help="feature store of a non-embedded dataset"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel units (default: number of cores)"),
) -> None:
    """Re-run a verified entry's model here and judge agreement against the entry's seed interval."""
    from avbench.leaderboards.reverify import agreement_table, find_entry, reverify  # deferred: pydantic, torch

    found = find_entry(entry, entries)
    seeds = validate.seed_values(1, seed_list) if seed_list else None
    target = out or Path("runs") / f"verify-{found.id}"
    names = validate.unique([c.strip() for c in corruption.split(",") if c.strip()], "--corruption") \
        if corruption else None
    judged = reverify(found, target, seeds, retrain, store, workers, names)
    console = terminal.console()
    table = agreement_table(found, judged)
    terminal.print_table(console, table)
    for note in table.notes:
        console.print(note, markup=False, highlight=False)
    failed = [a.board for a in judged if not a.agrees]
    if failed:
        console.print(f"NOT confirmed: {', '.join(failed)} outside the entry's interval", markup=False,
                      highlight=False)
        raise typer.Exit(1)
    console.print(f"confirmed: {found.id} agrees with its re-run on this machine ({target})", markup=False,
                  highlight=False)
