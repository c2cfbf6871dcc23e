"""The ``avbench`` command line: one app, one subcommand per job.

Bad input never produces a traceback: every :class:`~avbench.errors.UserError` becomes one red line on stderr and
exit code 2.
"""
from __future__ import annotations

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
from rich.markup import escape  # noqa: E402
from avbench.output import choices, formats, schemas, terminal  # noqa: E402
from avbench import validate  # noqa: E402
from avbench.data.datasets import open_dataset  # noqa: E402
from avbench.corruptions import parse_selection  # noqa: E402
from avbench.corruptions.configured import corruption_settings  # noqa: E402
from avbench.errors import UserError, environment_fault  # noqa: E402
from avbench.execution import THREADS_ENV  # noqa: E402
from avbench.execution.executors import start_local_workers  # noqa: E402
from avbench.speed import bootstrap as bootstrap_speed  # noqa: E402
from avbench.speed import main_job, scale  # noqa: E402
from avbench.speed import masks as mask_speed  # noqa: E402
from avbench import __version__  # noqa: E402
from avbench.cache import ENV as CACHE_ENV, default_cache_dir  # noqa: E402

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Robustness benchmark for audio-visual and audio-text emotion recognition under missing data.")
speed_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks that print ratios measured side by side.")
app.add_typer(speed_app, name="speed")
from avbench.corpora.commands import datasets_app, extract  # noqa: E402
from avbench.leaderboards.commands import leaderboard as leaderboard_command  # noqa: E402
from avbench.leaderboards.commands import submit as submit_command  # noqa: E402
from avbench.netloss.commands import compare_loss as compare_loss_command  # noqa: E402
from avbench.netloss.commands import fit_loss as fit_loss_command  # noqa: E402
from avbench.netloss.commands import traces as traces_command  # noqa: E402
from avbench.leaderboards.commands import verify as verify_command  # noqa: E402
from avbench.reports.commands import report as report_command  # noqa: E402

app.add_typer(datasets_app, name="datasets", help="Real corpora: labels, splits and statistics.")
app.command("extract")(extract)
app.command("leaderboard")(leaderboard_command)
app.command("submit")(submit_command)
app.command("verify")(verify_command)
app.command("report")(report_command)
datasets_app.command("traces")(traces_command)
app.command("fit-loss")(fit_loss_command)
app.command("compare-loss")(compare_loss_command)
out = terminal.console()
err = terminal.console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"avbench {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def settings(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="print avbench's version and exit"),
    cache: Optional[Path] = typer.Option(None, "--cache", envvar=CACHE_ENV, show_envvar=True,
                                         help=f"where datasets and checkpoints are kept (default: {default_cache_dir()})"),
    threads: Optional[int] = typer.Option(None, "--threads", envvar=THREADS_ENV, show_envvar=True, min=1,
                                          help="torch threads per training or evaluation unit (default: 1, so that "
                                               "numbers do not depend on the machine's cores)"),
    progress_seconds: Optional[float] = typer.Option(None, "--progress-seconds", envvar=terminal.PROGRESS_ENV,
                                                     show_envvar=True, min=0,
                                                     help="off a terminal (a log, a pipe), one progress line every this "
                                                          f"many seconds (default: {terminal.PROGRESS_SECONDS:g})"),
) -> None:
    """Each setting is bound to its environment variable, and a value given here is put into this process's
    environment: the cache, the workers and the progress lines read it there, so the option and the variable are
    one setting, for this process and every worker it starts."""
    for name, value in ((CACHE_ENV, cache), (THREADS_ENV, threads), (terminal.PROGRESS_ENV, progress_seconds)):
        if value is not None:
            os.environ[name] = str(value)


def model_names(spec: str) -> list[str]:
    """``--models all`` → every registered model; ``a,b`` → those, each checked to exist."""
    from avbench.runner import requested_models  # deferred: torch

    return requested_models([s.strip() for s in spec.split(",") if s.strip()])[0]


# -- list --------------------------------------------------------------------------------------------------------
@app.command("list")
def list_(
    kind: str = typer.Argument(..., help="what to list", **choices.LISTING),
    fmt: str = typer.Option("table", "--format", help="json carries every column with native types",
                            **choices.format_choice(formats.RECORDS)),
) -> None:
    """List registered models (modalities, tasks, mask access, parameter counts, paper), corruptions (every level),
    training protocols, datasets, or the paper tables and figures ``avbench report`` regenerates."""
    from avbench.output.listing import list_kind  # deferred: the model registry (torch)

    list_kind(kind, fmt, out)


# -- train / run ---------------------------------------------------------------------------------------------------
@app.command()
def train(
    model: str = typer.Option(..., "--model", help="registry name or package.module:Class", **choices.MODEL),
    dataset: str = typer.Option("synthetic", help="embedded dataset name or feature store path", **choices.DATASET),
    seed: int = typer.Option(0),
    config: str = typer.Option("tiny", help="model configuration", **choices.MODEL_CONFIG),
    task: Optional[str] = typer.Option(None, help="a registered task (default: the model's own)", **choices.TASK),
    set_: list[str] = typer.Option([], "--set", help="constructor override key=value (repeatable)"),
    epochs: Optional[int] = typer.Option(None, help="override the recipe's epochs"),
    device: str = typer.Option("cpu", **choices.DEVICE),
    precision: str = typer.Option("fp32", help="autocast for training and evaluation", **choices.PRECISION),
    protocol: str = typer.Option("recipe", "--protocol", help="training protocol (see `avbench list protocols`)"),
) -> None:
    """Train one model (or reuse its cached checkpoint) and print where it is."""
    from avbench.execution.training import TrainSpec, check_train_spec, load_or_train  # deferred: torch
    from avbench.execution.units import set_threads  # deferred: torch

    set_threads()
    spec = TrainSpec(model, seed, config, task, validate.parse_settings(set_), epochs, precision, protocol)
    check_train_spec(spec, device)
    store = open_dataset(dataset)
    validate.trainable(store, dataset)
    with terminal.progress(err, f"train {spec.label} (epochs)") as bar:
        _, description, directory = load_or_train(
            spec, store, device, on_epoch=lambda e, n: bar.update(completed=e, total=n))
    out.print(f"checkpoint: {directory}")
    out.print(f"best dev score: {description['best_dev']}  (epochs {description['epochs']}, "
              f"{description['parameters']:,} parameters)")
    out.print(f"training: {spec.training} ({spec.plan().describe()})", markup=False, highlight=False)


SLURM = "Slurm jobs (--executor slurm; or the slurm table of a --config file)"


@app.command()
def run(
    ctx: typer.Context,
    models: str = typer.Option("all", help="every registered model that can run on the dataset, or these",
                               **choices.MODELS),
    corruption: str = typer.Option("markov", help="corruptions, 'random' (see --modality) or 'all'",
                                   **choices.CORRUPTIONS),
    modality: Optional[str] = typer.Option(None, help="target of `random`", **choices.MODALITY),
    dataset: str = typer.Option("synthetic", help="embedded dataset name or feature store path", **choices.DATASET),
    task: Optional[str] = typer.Option(None, help="a registered task (default: each model's own)", **choices.TASK),
    seeds: int = typer.Option(1, help="number of seeds 0..N-1"),
    seed_list: Optional[str] = typer.Option(None, help="explicit seeds, e.g. 0,1,2"),
    config: str = typer.Option("tiny", help="a model configuration, or a run configuration file to read the "
                                            "settings from: a .toml file, or a run's run.json or directory to repeat "
                                            "it (options given here override the file)", **choices.RUN_CONFIG),
    set_: list[str] = typer.Option([], "--set", help="constructor override for every model key=value"),
    bootstrap: int = typer.Option(1000, help="bootstrap resamples for the confidence intervals"),
    out_dir: Optional[str] = typer.Option(None, "--out",
                                          help="run directory (default runs/<dataset>-<corruption>-<time>)"),
    executor: str = typer.Option("local", help="where units run", **choices.EXECUTOR),
    workers: Optional[int] = typer.Option(None, help="parallel units (default: number of cores)"),
    ray_address: Optional[str] = typer.Option(None, help="address of an existing Ray cluster"),
    device: str = typer.Option("cpu", **choices.DEVICE),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="skip units whose outputs are present"),
    mask_seed: int = typer.Option(0, help="seed of the corruption masks (the protocol)"),
    epochs: Optional[int] = typer.Option(None, help="override every recipe's epochs"),
    precision: str = typer.Option("fp32", help="autocast for training and evaluation", **choices.PRECISION),
    split: str = typer.Option("test", help="evaluation split (dev for choosing a configuration)", **choices.SPLIT),
    traces: Optional[Path] = typer.Option(None, "--traces", help="`trace`: folder of loss traces (one 0/1 flag per "
                                          "packet, 1 = lost; default: the demo set)"),
    packet_ms: Optional[float] = typer.Option(None, "--packet-ms", help="`trace`: packet length in ms (default 20)"),
    ge_params: list[str] = typer.Option([], "--ge-params", help="`gilbert-elliott`: a level p,r,k,h instead of the "
                                        "default sweep (repeatable; see `avbench fit-loss`)"),
    slurm_partition: Optional[str] = typer.Option(None, help="partition", rich_help_panel=SLURM),
    slurm_account: Optional[str] = typer.Option(None, help="account charged", rich_help_panel=SLURM),
    slurm_mem: Optional[str] = typer.Option(None, help="memory per job, e.g. 16G", rich_help_panel=SLURM),
    slurm_time: Optional[str] = typer.Option(None, help="time limit per job: minutes or [D-]HH:MM:SS (default 24 h)",
                                             rich_help_panel=SLURM),
    slurm_gpus_per_task: Optional[int] = typer.Option(None, help="GPUs per job (default: 1 with --device cuda)",
                                                      rich_help_panel=SLURM),
    slurm_cpus_per_task: Optional[int] = typer.Option(None, help="CPUs per job (default 1)", rich_help_panel=SLURM),
    protocols: str = typer.Option("recipe", "--protocols",
                                  help="training protocols NAME[,NAME] | all: each model is trained under each "
                                       "(see `avbench list protocols`)"),
) -> None:
    """Train (or reuse) every model × training protocol × seed and evaluate it under every level of every
    corruption."""
    # first: the local workers' import of torch overlaps the checks below (a --config file that chooses another
    # executor leaves this server to finish its import and exit with the process)
    start_local_workers(executor, workers)
    from avbench.execution import run_config  # deferred: pydantic
    from avbench.protocols import parse_selection as parse_protocols  # deferred: torch
    from avbench.output.summary_table import print_summary  # deferred: scipy, torch
    from avbench.runner import RunSpec  # deferred: torch
    from avbench.runner import run as run_grid  # deferred: torch

    from_file = run_config.load(config) if run_config.is_run_file(config) else None
    slurm = {"partition": slurm_partition, "account": slurm_account, "mem": slurm_mem, "time": slurm_time,
             "gpus_per_task": slurm_gpus_per_task, "cpus_per_task": slurm_cpus_per_task}
    options = {"models": models, "corruption": corruption, "modality": modality, "dataset": dataset, "task": task,
               "seeds": seeds, "seed_list": validate.seed_values(seeds, seed_list) if seed_list else None,
               "config": _default(ctx, "config") if from_file else config, "overrides": validate.parse_settings(set_),
               "bootstrap": bootstrap, "out": out_dir, "executor": executor,
               "workers": workers, "ray_address": ray_address, "device": device, "resume": resume,
               "mask_seed": mask_seed, "epochs": epochs, "precision": precision, "split": split,
               "slurm": {k: v for k, v in slurm.items() if v is not None}, "protocols": protocols,
               "traces": str(traces) if traces is not None else None, "packet_ms": packet_ms,
               "ge_params": list(ge_params) or None}
    given = {_RUN_KEYS.get(name, name) for name in _given_here(ctx)} - ({"config"} if from_file else set())
    settings = run_config.resolve(options, given, from_file)
    start_local_workers(settings.executor or executor, settings.workers)
    corruption_names = validate.unique(list(settings.corruption or []), "--corruption")
    chosen = [c.name for c in parse_selection(",".join(corruption_names), settings.modality)]
    seed_list_ = None if settings.seed_list is None else ",".join(map(str, settings.seed_list))
    configured = corruption_settings(chosen, Path(settings.traces) if settings.traces else None, settings.packet_ms,
                                     list(settings.ge_params or []))  # a bad trace folder fails here
    spec = RunSpec(models=list(settings.models or []), corruptions=chosen, dataset=settings.dataset,
                   task=settings.task, seeds=validate.seed_values(settings.seeds, seed_list_), config=settings.config,
                   overrides=dict(settings.overrides or {}), bootstrap=settings.bootstrap,
                   out=settings.out, executor=settings.executor,
                   workers=settings.workers, device=settings.device, resume=settings.resume,
                   mask_seed=settings.mask_seed, ray_address=settings.ray_address, epochs=settings.epochs,
                   precision=settings.precision, split=settings.split, dataset_seed=settings.dataset_seed or 0,
                   slurm=settings.slurm, corruption_settings=configured,
                   training_protocols=parse_protocols(",".join(settings.protocols or ["recipe"])))
    directory = run_grid(spec, console=err)
    print_summary(directory, out)
    out.print(f"results: {directory} (open {directory / 'report.html'} for tables, curves and provenance)",
              markup=False, highlight=False)


_RUN_KEYS = {"set_": "overrides", "out_dir": "out", **{f"slurm_{k}": "slurm" for k in
                                                          ("partition", "account", "mem", "time", "gpus_per_task",
                                                           "cpus_per_task")}}  # option → configuration key


def _default(ctx: typer.Context, name: str) -> Any:
    return next(p.default for p in ctx.command.params if p.name == name)


def _given_here(ctx: typer.Context) -> set[str]:
    """The options the user gave (on the command line or through an environment variable), not left at their
    defaults: they override a configuration file."""
    return {name for name in ctx.params
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")}


# -- show / compare ------------------------------------------------------------------------------------------------
@app.command()
def show(
    run_dir: Path = typer.Argument(..., help="a run directory (finished, or unfinished: what is done)"),
    html: bool = typer.Option(False, "--html", help="also write RUN_DIR/report.html"),
    plots: bool = typer.Option(False, "--plots", help="also draw RUN_DIR/plots/ranks-*.png (each model's rank with "
                                                      "its 95 % bootstrap interval) and per-class-*.png"),
    fmt: str = typer.Option("table", "--format", help="json: the run as avbench.open_run gives it (Run.to_dict); "
                                                      "csv, md: its summary rows", **choices.format_choice(formats.RECORDS)),
) -> None:
    """Print a run's ranked tables again (an unfinished run: what is done so far)."""
    from avbench.output.run_report import per_class_tables, write_report  # deferred: matplotlib, torch
    from avbench.output.summary_table import print_summary_frame  # deferred: scipy, torch
    from avbench.rundir.api import open_run  # deferred: pydantic, scipy, torch

    if html and Path(run_dir).is_dir():  # before an unfinished run is scored
        validate.output_file(Path(run_dir) / "report.html", "--html: RUN_DIR/report.html")
    formats.get(fmt, formats.RECORDS)  # before the run is read
    run = open_run(run_dir)
    notes = out if fmt == formats.TERMINAL else err  # a machine format keeps stdout to itself
    text = formats.render_data(fmt, run.to_dict(), formats.frame_records(run.summary))
    if text is not None:
        sys.stdout.write(text)
    else:
        status = "finished" if run.complete else f"unfinished, {len(run.done)} of {run.expected} evaluations done"
        out.print(f"run {run_dir} ({status}); dataset {run.dataset}; models {', '.join(run.models)}; "
                  f"seeds {', '.join(map(str, run.seeds))}", markup=False, highlight=False)
        if len(run.summary):
            print_summary_frame(run.summary, out, run.view.info.checkpoint_hashes or {})
            for table in per_class_tables(run.view):
                terminal.print_table(out, table)
    if html:
        notes.print(f"report: {write_report(run_dir)}", markup=False, highlight=False)
    if plots:
        for path in run.plots():
            notes.print(f"written: {path}", markup=False, highlight=False)


@app.command()
def compare(
    run_a: Path = typer.Argument(..., help="the reference run (A)"),
    run_b: Path = typer.Argument(..., help="the run to compare with it (B); differences are B − A"),
    models: Optional[str] = typer.Option(None, "--models", help="MODEL (in both runs) or A_MODEL,B_MODEL "
                                         "(default: every model the runs share)"),
    out_dir: Optional[str] = typer.Option(None, "--out", help="where compare.csv and the plots go "
                                          "(default RUN_B/compare-<name of RUN_A>)"),
    fmt: str = typer.Option("table", "--format", help="json: every comparison (Comparison.to_dict); csv, md: the "
                                                      "rows of compare.csv", **choices.format_choice(formats.RECORDS)),
) -> None:
    """Per-level differences of two runs of the same protocol, paired-bootstrapped, with Holm-corrected p."""
    from avbench.output.compare import level_table, summary_table, write_outputs  # deferred: matplotlib
    from avbench.scoring.compare import compare_runs  # deferred: pandas and scipy

    formats.get(fmt, formats.RECORDS)  # before anything is computed
    default = Path(run_b) / f"compare-{Path(run_a).resolve().name}"
    target = validate.output_dir(out_dir if out_dir is not None else default)  # before the runs are scored
    a, b, comparisons = compare_runs(run_a, run_b, models)
    rows = [row for c in comparisons for row in formats.frame_records(c.levels)]
    text = formats.render_data(fmt, [c.to_dict() for c in comparisons], rows)
    if text is not None:
        sys.stdout.write(text)
    else:
        for comparison in comparisons:
            for table in (level_table(comparison, a, b), summary_table(comparison)):
                terminal.print_table(out, table)
                for note in table.notes:
                    out.print(note, markup=False, highlight=False)
    for path in write_outputs(comparisons, target):
        (out if text is None else err).print(f"written: {path}", markup=False, highlight=False)


# -- schema ----------------------------------------------------------------------------------------------------------
@app.command()
def schema(name: str = typer.Argument(..., help="which record", **choices.SCHEMA)) -> None:
    """Print the JSON Schema of a leaderboard entry, a feature store's meta.json or a run's run.json: the same typed
    records avbench checks these files with, for submitters and other tools."""
    out.print(schemas.json_text(name), markup=False, highlight=False, end="", soft_wrap=True)


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
    device: str = typer.Option("cpu", **choices.DEVICE),
    models: str = typer.Option("ser,late-fusion,mdre-gru",
                               help="all | none | name,name,… (each trained a few steps at its paper config)",
                               **choices.MODELS),
    encoders: str = typer.Option("all", help="all | none | wavlm-large,wav2vec2-large-robust,roberta-base,faces"),
    precision: str = typer.Option("fp32", **choices.PRECISION),
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
        _error_line(str(exc))
        sys.exit(2)
    except Exception as exc:  # a full disk, a read-only folder, a killed worker: one line, exit 1; a bug: traceback
        fault = environment_fault(exc)
        if fault is None:
            raise
        _error_line(str(fault))
        sys.exit(1)


def _error_line(message: str) -> None:
    """``error: <message>`` in red; the message is printed as written (an install hint keeps ``[ray]``, a label
    ``raver[n_ctx=16]``: rich would take them for markup)."""
    err.print("[bold red]error:[/] " + escape(message), highlight=False, soft_wrap=True)
