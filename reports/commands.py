"""Plain functions ready to be mounted as typer commands: ``avbench report`` and ``avbench list reports``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from avbench import validate
from avbench.errors import UserError
from avbench.validate import MIN_BOOTSTRAP
from avbench.reports.base import SIGNIFICANCE, Settings
from avbench.reports.readme import default_readme

if TYPE_CHECKING:  # the reports pull in plotting and the summariser: imported when a command runs
    from avbench.reports.produce import ReportInfo


def report(
    name: str = typer.Argument(..., help="report name (see `avbench list reports`) or 'all'"),
    results: Path = typer.Option(Path("runs"), "--results", help="a run directory, or a root holding runs"),
    out: Optional[str] = typer.Option(None, "--out", help="where to write the report files (default RESULTS/reports)"),
    compare_published: bool = typer.Option(False, "--compare-published",
                                           help="put the paper's reported numbers beside the reproduced ones"),
    dataset: str = typer.Option("synthetic", "--dataset", help="dataset of the runs (embedded name or store path)"),
    config: str = typer.Option("tiny", "--config", help="model config of the runs: tiny | paper"),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1,
                                        help="seeds per run (default: 1, or 5 for the 5 seeds × 5 subsets protocol)"),
    run_missing: Optional[bool] = typer.Option(None, "--run-missing/--no-run-missing",
                                               help="run missing runs into RESULTS (default: yes for 'all' only)"),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=MIN_BOOTSTRAP,
                                  help="bootstrap resamples of runs started here"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="override the recipes' epochs of runs started here"),
    significance: str = typer.Option(SIGNIFICANCE[0], "--significance",
                                     help="markers of the audio-text reports: seed-aware (seed-aware paired test, "
                                          "Holm over the table's markers) | paper (the paper's 5 seeds × 5 subsets "
                                          "t-test)"),
    readme: Optional[Path] = typer.Option(None, "--readme", help="the README whose generated section a report "
                                          "rewrites (protocols; default: this checkout's README.md)"),
) -> list[Path]:
    """Reproduce a table or figure of the papers from run results (Markdown/LaTeX/CSV or PNG/PDF)."""
    from avbench.reports.produce import ALL, Options, produce  # deferred: matplotlib, pydantic

    if config not in ("tiny", "paper"):
        raise UserError(f"--config must be tiny or paper, got {config!r}")
    if significance not in SIGNIFICANCE:
        raise UserError(f"--significance must be {' or '.join(SIGNIFICANCE)}, got {significance!r}")
    validate.at_least(seeds, 1, "--seeds", validate.MAX_SEEDS)
    validate.bootstrap_count(bootstrap)
    validate.at_least(epochs, 1, "--epochs", validate.MAX_EPOCHS)
    target = validate.output_dir(out if out is not None else results / "reports", "--out")  # before any run
    if run_missing if run_missing is not None else name == ALL:
        validate.output_dir(results, "--results")  # the missing runs are written there
    options = Options(results=results, out=target,
                      settings=Settings(dataset=dataset, seeds=seeds, config=config, significance=significance),
                      compare_published=compare_published,
                      run_missing=run_missing if run_missing is not None else name == ALL,
                      bootstrap=bootstrap, epochs=epochs, readme=readme if readme is not None else default_readme())
    written = produce(name, options)
    for path in written:
        typer.echo(str(path))
    return written


def list_reports() -> list[ReportInfo]:
    """Rows of ``avbench list reports``: name, kind, source artifact, title and the runs it needs."""
    from avbench.reports.produce import describe  # deferred: matplotlib, pydantic

    return describe()
