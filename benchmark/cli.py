"""The ``avbench`` command line: one app, one subcommand per job.

Bad input never produces a traceback: every :class:`~avbench.errors.UserError` becomes one red line on stderr and
exit code 2.
"""
from __future__ import annotations

import ast
import atexit
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

# Before numpy is first imported: one OpenBLAS thread per process unless the user chose otherwise. A command's own
# process scores, tabulates and plots in short bursts while its workers use every core, and OpenBLAS's threads
# spin-wait after each product, taking those cores from the workers (about 1.5 s of a 22 s run); its products are
# too small to gain from threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # noqa: E402
from avbench.output import formats, terminal  # noqa: E402
from avbench import validate  # noqa: E402
from avbench.data.datasets import open_dataset  # noqa: E402
from avbench.corruptions import parse_selection  # noqa: E402
from avbench.errors import UserError  # noqa: E402
from avbench.execution.executors import start_local_workers  # noqa: E402
from avbench.speed import bootstrap as bootstrap_speed  # noqa: E402
from avbench.speed import main_job, scale  # noqa: E402
from avbench.speed import masks as mask_speed  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Robustness benchmark for audio-visual and audio-text emotion recognition under missing data.")
speed_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks that print ratios measured side by side.")
app.add_typer(speed_app, name="speed")
from avbench.corpora.commands import datasets_app, extract  # noqa: E402
from avbench.leaderboards.commands import leaderboard as leaderboard_command  # noqa: E402
from avbench.leaderboards.commands import submit as submit_command  # noqa: E402
from avbench.reports.commands import report as report_command  # noqa: E402

app.add_typer(datasets_app, name="datasets", help="Real corpora: labels, splits and statistics.")
app.command("extract")(extract)
app.command("leaderboard")(leaderboard_command)
app.command("submit")(submit_command)
app.command("report")(report_command)
out = terminal.console()
err = terminal.console(stderr=True)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``--set d_model=64 --set n_ctx=16`` → {"d_model": 64, "n_ctx": 16} (values read as Python literals)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {pair!r}")
        try:
            result[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            result[key.strip()] = raw
    return result


def model_names(spec: str) -> list[str]:
    """``--models all`` → every registered model; ``a,b`` → those, each checked to exist."""
    from avbench.runner import requested_models  # deferred: torch

    return requested_models([s.strip() for s in spec.split(",") if s.strip()])[0]


# -- list --------------------------------------------------------------------------------------------------------
@app.command("list")
def list_(
    kind: str = typer.Argument(..., help="models | corruptions | protocols | datasets | reports"),
    fmt: str = typer.Option("table", "--format", help=f"{formats.help_text(formats.RECORDS)} (json carries every "
                                                     "column with native types)"),
) -> None:
    """List registered models (modalities, tasks, mask access, parameter counts, paper), corruptions (every level),
    training protocols, datasets, or the paper tables and figures ``avbench report`` regenerates."""
    from avbench.output.listing import list_kind  # deferred: the model registry (torch)

    list_kind(kind, fmt, out)


# -- train / run ---------------------------------------------------------------------------------------------------
@app.command()
def train(
    model: str = typer.Option(..., "--model", help="registry name or package.module:Class"),
    dataset: str = typer.Option("synthetic", help="embedded dataset name or feature store path"),
    seed: int = typer.Option(0),
    config: str = typer.Option("tiny", help="tiny | paper"),
    task: Optional[str] = typer.Option(None, help="emotion | attributes (default: the model's own)"),
    set_: list[str] = typer.Option([], "--set", help="constructor override key=value (repeatable)"),
    epochs: Optional[int] = typer.Option(None, help="override the recipe's epochs"),
    device: str = typer.Option("cpu"),
    precision: str = typer.Option("fp32", help="fp32 | bf16 (autocast for training and evaluation)"),
    protocol: str = typer.Option("recipe", "--protocol", help="training protocol (see `avbench list protocols`)"),
) -> None:
    """Train one model (or reuse its cached checkpoint) and print where it is."""
    from avbench.execution.training import TrainSpec, check_train_spec, load_or_train  # deferred: torch
    from avbench.execution.units import set_threads  # deferred: torch

    set_threads()
    spec = TrainSpec(model, seed, config, task, parse_overrides(set_), epochs, precision, protocol)
    check_train_spec(spec, device)
    store = open_dataset(dataset)
    with terminal.progress(err, f"train {spec.label} (epochs)") as bar:
        _, description, directory = load_or_train(
            spec, store, device, on_epoch=lambda e, n: bar.update(completed=e, total=n))
    out.print(f"checkpoint: {directory}")
    out.print(f"best dev score: {description['best_dev']}  (epochs {description['epochs']}, "
              f"{description['parameters']:,} parameters)")
    out.print(f"training: {spec.training} ({spec.plan().describe()})", markup=False, highlight=False)


@app.command()
def run(
    models: str = typer.Option("all", help="all | name,name,…"),
    corruption: str = typer.Option("markov", help="NAME[,NAME] | all"),
    modality: Optional[str] = typer.Option(None, help="target of `random`: audio | video | text | all"),
    dataset: str = typer.Option("synthetic"),
    task: Optional[str] = typer.Option(None, help="a registered task: emotion | attributes (default: each model's own)"),
    seeds: int = typer.Option(1, help="number of seeds 0..N-1"),
    seed_list: Optional[str] = typer.Option(None, help="explicit seeds, e.g. 0,1,2"),
    config: str = typer.Option("tiny", help="tiny | paper"),
    set_: list[str] = typer.Option([], "--set", help="constructor override for every model key=value"),
    bootstrap: int = typer.Option(1000, help="bootstrap resamples for the confidence intervals"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/<dataset>-<corruption>-<time>)"),
    executor: str = typer.Option("local", help="local | ray | slurm"),
    workers: Optional[int] = typer.Option(None, help="parallel units (default: number of cores)"),
    ray_address: Optional[str] = typer.Option(None, help="address of an existing Ray cluster"),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="skip units whose outputs are present"),
    mask_seed: int = typer.Option(0, help="seed of the corruption masks (the protocol)"),
    epochs: Optional[int] = typer.Option(None, help="override every recipe's epochs"),
    precision: str = typer.Option("fp32", help="fp32 | bf16 (autocast for training and evaluation)"),
    split: str = typer.Option("test", help="evaluation split: test | dev (dev for choosing a configuration)"),
    protocols: str = typer.Option("recipe", "--protocols",
                                  help="training protocols NAME[,NAME] | all: each model is trained under each "
                                       "(see `avbench list protocols`)"),
) -> None:
    """Train (or reuse) every model × training protocol × seed and evaluate it under every level of every
    corruption."""
    start_local_workers(executor, workers)  # first: their import of torch overlaps the checks below
    from avbench.output.summary_table import print_summary  # deferred: scipy, torch
    from avbench.protocols import parse_selection as parse_protocols  # deferred: torch
    from avbench.runner import RunSpec  # deferred: torch
    from avbench.runner import run as run_grid  # deferred: torch

    corruption_names = validate.unique([t.strip() for t in corruption.split(",") if t.strip()], "--corruption")
    chosen = [c.name for c in parse_selection(",".join(corruption_names), modality)]
    spec = RunSpec(models=[m.strip() for m in models.split(",") if m.strip()], corruptions=chosen, dataset=dataset,
                   task=task, seeds=validate.seed_values(seeds, seed_list), config=config,
                   overrides=parse_overrides(set_), bootstrap=bootstrap, out=out_dir, executor=executor,
                   workers=workers, device=device, resume=resume, mask_seed=mask_seed, ray_address=ray_address,
                   epochs=epochs, precision=precision, split=split,
                   training_protocols=parse_protocols(protocols))
    directory = run_grid(spec, console=err)
    print_summary(directory, out)
    out.print(f"results: {directory} (open {directory / 'report.html'} for tables, curves and provenance)",
              markup=False, highlight=False)


# -- show / compare ------------------------------------------------------------------------------------------------
@app.command()
def show(
    run_dir: Path = typer.Argument(..., help="a run directory (finished, or unfinished: what is done)"),
    html: bool = typer.Option(False, "--html", help="also write RUN_DIR/report.html"),
) -> None:
    """Print a run's ranked tables again (an unfinished run: what is done so far)."""
    from avbench.output.run_report import per_class_tables, write_report  # deferred: matplotlib, torch
    from avbench.output.summary_table import print_summary_frame  # deferred: scipy, torch
    from avbench.rundir.run_view import open_run  # deferred: pydantic, scipy, torch

    view = open_run(run_dir)
    status = "finished" if view.complete else f"unfinished, {len(view.done)} of {view.expected} evaluations done"
    out.print(f"run {run_dir} ({status}); dataset {view.dataset}; models {', '.join(view.labels)}; "
              f"seeds {', '.join(map(str, view.seeds))}", markup=False, highlight=False)
    if len(view.summary):
        print_summary_frame(view.summary, out, view.info.checkpoint_hashes or {})
        for table in per_class_tables(view):
            terminal.print_table(out, table)
    if html:
        out.print(f"report: {write_report(run_dir)}", markup=False, highlight=False)


@app.command()
def compare(
    run_a: Path = typer.Argument(..., help="the reference run (A)"),
    run_b: Path = typer.Argument(..., help="the run to compare with it (B); differences are B − A"),
    models: Optional[str] = typer.Option(None, "--models", help="MODEL (in both runs) or A_MODEL,B_MODEL "
                                         "(default: every model the runs share)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="where compare.csv and the plots go "
                                           "(default RUN_B/compare-<name of RUN_A>)"),
) -> None:
    """Per-level differences of two runs of the same protocol, paired-bootstrapped, with Holm-corrected p."""
    from avbench.output.compare import level_table, summary_table, write_outputs  # deferred: matplotlib
    from avbench.scoring.compare import compare_runs  # deferred: pandas and scipy

    a, b, comparisons = compare_runs(run_a, run_b, models)
    for comparison in comparisons:
        for table in (level_table(comparison, a, b), summary_table(comparison)):
            terminal.print_table(out, table)
            for note in table.notes:
                out.print(note, markup=False, highlight=False)
    target = out_dir or Path(run_b) / f"compare-{Path(run_a).resolve().name}"
    for path in write_outputs(comparisons, target):
        out.print(f"written: {path}", markup=False, highlight=False)


# -- datasets realism ----------------------------------------------------------------------------------------------
@datasets_app.command("realism")
def datasets_realism(
    dataset: str = typer.Argument("synthetic", help="embedded dataset name or feature store path"),
    limit: int = typer.Option(2000, "--limit", min=1, help="at most this many clips per split"),
) -> None:
    """Autocorrelation, temporal evidence, burst cost, labels and modality strength beside real-data values."""
    from avbench.data.realism import measure, render  # deferred: torch

    render(measure(open_dataset(dataset), limit=limit), out)


# -- speed ---------------------------------------------------------------------------------------------------------
@speed_app.command("masks")
def speed_masks(n_seq: int = 10000, n_frames: int = 500) -> None:
    """Vectorised packet-loss masks vs a per-frame loop like the authors' (target ≥ 50×)."""
    mask_speed.report(mask_speed.measure(n_seq=n_seq, n_frames=n_frames))


@speed_app.command("bootstrap")
def speed_bootstrap(n_clips: int = 1500, n_resamples: int = 1000) -> None:
    """Vectorised bootstrap of every metric vs looping sklearn-style metrics (target ≥ 100×)."""
    bootstrap_speed.report(bootstrap_speed.measure(n_clips=n_clips, n_resamples=n_resamples))


@speed_app.command("faces")
def speed_faces(seconds: float = typer.Option(2.54, help="clip length (CREMA-D's mean)")) -> None:
    """Video features per clip: one frame per MTCNN call vs batched frames vs the larger smallest face (CPU)."""
    from avbench.speed.faces import measure, report  # deferred: torch, facenet-pytorch

    results = measure(seconds=seconds)
    report(results, round(30 * seconds))


@speed_app.command("run")
def speed_run(models: str = typer.Option("all", help="models of the timed main job")) -> None:
    """Cold/warm main job vs the 150-s/20-s targets, cost per extra level, and memory as the data grows."""
    main_job.measure(models)


@speed_app.command("protocols")
def speed_protocols(
    models: str = typer.Option("all", help="models of the timed grid"),
    protocols: str = typer.Option("all", help="training protocols of the timed grid"),
    warm_repeats: int = typer.Option(1, "--warm-repeats", min=1, help="warm runs timed (the best is kept)"),
) -> None:
    """The main job under every training protocol, cold and warm, against the protocol grid's budget."""
    main_job.protocol_grid(models, protocols, warm_repeats)


@speed_app.command("scale")
def speed_scale(
    device: str = typer.Option("cpu", help="cpu | cuda"),
    models: str = typer.Option("ser,late-fusion,mdre-gru",
                               help="all | none | name,name,… (each trained a few steps at its paper config)"),
    encoders: str = typer.Option("all", help="all | none | wavlm-large,wav2vec2-large-robust,roberta-base,faces"),
    precision: str = typer.Option("fp32", help="fp32 | bf16"),
    steps: int = typer.Option(2, help="timed training steps per model (after one warm-up step)"),
    batch_size: int = typer.Option(8, help="training batch size measured (0 = each recipe's); projections use "
                                           "clips/s"),
    layers: int = typer.Option(2, help="transformer layers built per encoder; timings are extrapolated to its full depth"),
    repeats: int = typer.Option(1, help="timed repeats per encoder (the best is kept)"),
    seeds: int = typer.Option(1, help="seeds per model in the projected full RAVER sweep"),
) -> None:
    """Extraction clips/s, training steps/s and memory, evaluation rate at paper configs; projected corpus costs."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UserError(f"--device must be cpu or cuda, got {device!r}")
    names = [] if models.strip() == "none" else model_names(models)
    chosen = list(scale.ENCODERS) if encoders.strip() == "all" else [] if encoders.strip() == "none" else [
        e.strip() for e in encoders.split(",") if e.strip()]
    scale.measure(names, chosen, device, precision, steps, batch_size, layers, repeats, seeds)


def entry() -> None:
    """The ``avbench`` console script and ``python -m avbench``: :func:`main`, then a prompt exit.

    A process that has imported torch, pandas and matplotlib spends about a second tearing its modules down after
    the command is done — longer than many commands take. Everything a command writes is written atomically and
    complete by the time :func:`main` returns, so the exit handlers run (temporary directories, worker processes),
    the streams are flushed, and the process ends without that teardown. An unexpected exception still ends the
    ordinary way, with its traceback.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            raise  # the interpreter prints the message
        code = exc.code or 0
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def main() -> None:
    """The command line, for callers that stay in the process (the tests): user errors → one line on stderr,
    exit code 2."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    try:
        app(prog_name="avbench")  # click itself turns usage errors into exit code 2
    except UserError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
