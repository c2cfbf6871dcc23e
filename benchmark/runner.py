"""``avbench run``: every model × seed trained (or reused) and evaluated under every level of every corruption.

The grid is split into units (see :mod:`avbench.execution.units`) whose outputs are written atomically and skipped when
present and valid, so a run killed at any point — SIGKILL included — finishes when the same command is run again,
with byte-identical results. Results are computed only from the saved per-clip predictions, so they can always be
recomputed without running a model.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import threading
import time
import warnings
from collections.abc import Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from avbench import validate
from avbench.atomic import (holder_alive, run_lock, sweep_temporaries, this_process, write_json,
                            write_json_best_effort)
from avbench.corpora.checks import recorded_problems
from avbench.corruptions import get as get_corruption
from avbench.corruptions.configured import identity as corruption_identity
from avbench.corruptions.configured import resolve as resolve_corruption
from avbench.data.datasets import open_dataset
from avbench.data.store import FeatureStore
from avbench.data.verification import RunGuard
from avbench.data.vocabulary import EVALUATION_SPLITS
from avbench.errors import EnvironmentFault, UserError, environment_fault, unknown
from avbench.execution.checkpoints import config_hash
from avbench.execution.contract import Contract, evaluation_record, merge_records
from avbench.execution.executors import (EXECUTORS, EXTRAS, InlineExecutor, extra_module, make_executor,
                                         start_local_workers)
from avbench.execution.run_config import SlurmResources, recorded
from avbench.execution.scheduling import longest_first
from avbench.execution.scheduling import record as record_seconds
from avbench.execution.training import TrainSpec, cached_weights, check_precision, shared_checkpoints
from avbench.execution.units import UnitContext, copy_eval_unit, run_eval_unit, run_train_unit
from avbench.models import RECIPE, check_settings, format_label, model_class, names, task_for, unusable_reason
from avbench.output import terminal
from avbench.protocols import check as check_protocols
from avbench.rundir import predictions
from avbench.rundir.provenance import provenance
from avbench.rundir.record import RUN_JSON, RunRecord, find_record, parse_record, read_record
from avbench.rundir.results import write_scores
from avbench.scoring.summary import RunScores, merge_scores, score_run
from avbench.tasks import check as check_task

__all__ = ["RunSpec", "run", "check_spec", "prepare", "resolve_models", "requested_models", "ALL"]

ALL = "all"  # ``models=["all"]``: every registered model that can run on the dataset


@dataclass
class RunSpec:
    """A run's grid and settings; its hash identifies the run for resuming."""

    models: list[str]
    corruptions: list[str]
    dataset: str = "synthetic"
    task: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    config: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    bootstrap: int = 1000
    out: Path | str | None = None
    executor: str = "local"
    workers: int | None = None
    device: str = "cpu"
    resume: bool = True
    mask_seed: int = 0
    dataset_seed: int = 0
    ray_address: str | None = None
    epochs: int | None = None
    precision: str = "fp32"
    split: str = "test"  # "dev" to choose a configuration (RAVER §IV-F); leaderboards take test runs only
    # configured corruptions (--traces, --packet-ms, --ge-params), see avbench.corruptions.configured
    corruption_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    slurm: SlurmResources | None = None  # what each Slurm job asks for (executor "slurm"); not part of the identity
    # every model is trained under each of these (avbench.protocols); the recipe alone is a run without protocols
    training_protocols: list[str] = field(default_factory=lambda: [RECIPE])

    def identity(self) -> dict[str, Any]:
        """The fields that change results (not where or how the units run). Configured corruptions enter by
        content (a trace folder's digest, not its path), and the training protocols when they are not the recipe
        alone, each only when present, so the hashes of other runs are unchanged (and they resume as before)."""
        keys = ("models", "corruptions", "dataset", "task", "seeds", "config", "overrides", "bootstrap", "mask_seed",
                "dataset_seed", "epochs", "precision", "split")
        found = {k: getattr(self, k) for k in keys}
        if self.corruption_settings:
            found["corruption_settings"] = corruption_identity(self.corruption_settings)
        if self.training_protocols != [RECIPE]:
            found["training_protocols"] = list(self.training_protocols)
        return found

    def train_specs(self) -> list[TrainSpec]:
        """Every training of the grid: model × training protocol × seed, seeds innermost (a label's seeds are
        consecutive)."""
        return [TrainSpec(m, seed, self.config, self.task, dict(self.overrides), self.epochs, self.precision, training)
                for m in self.models for training in self.training_protocols for seed in self.seeds]


def resolve_models(names: list[str], store_modalities: Collection[str], task: str | None, explicit: bool,
                   store_tasks: Collection[str] = ("emotion", "attributes")) -> list[str]:
    """Keep the models that can take the dataset's modalities and one of its labelled tasks (``task`` when given);
    warn under ``all``, fail when named."""
    usable = []
    for name in names:
        problem = unusable_reason(model_class(name), store_modalities, task, store_tasks)
        if not problem:
            usable.append(name)
        elif explicit:
            raise UserError(f"model {name!r} {problem}")
        else:
            warnings.warn(f"skipping model {name!r}: it {problem}")
    if not usable:
        raise UserError("no requested model can run on this dataset "
                        f"(it has {', '.join(store_modalities) or 'no modalities'} and labels for "
                        f"{', '.join(store_tasks) or 'no task'})")
    return usable


def requested_models(models: Sequence[str]) -> tuple[list[str], bool]:
    """``["all"]`` → every registered model (explicit=False: unusable ones are skipped with a warning); otherwise
    the named models, each of which must exist (an unknown name is answered with "did you mean")."""
    if list(models) == [ALL]:
        return names(), False
    chosen = validate.unique(list(models), "--models")
    for name in chosen:
        if "[" in name:
            raise UserError(f"--models {name!r}: the NAME[key=value] form is not supported here; pass settings "
                            "with --set key=value")
        model_class(name)  # raises with suggestions when unknown
    return chosen, True


def evaluation_records(out: Path, labels: list[str], seeds: list[int], corruptions: list[Any]) -> dict[str, Any]:
    """Per model: mask access and the evaluation path its predictions files record (see :mod:`avbench.execution.contract`);
    warns once for every model whose files record a failed folding probe (files made before avbench folded the
    frontend by construction)."""
    records = {}
    for label in labels:
        found = []
        for seed in seeds:
            for corruption in corruptions:
                where = f"{label} seed {seed} {corruption.name}"
                found.append(evaluation_record(predictions.load(predictions.path(out, label, seed, corruption.name), where),
                                         where))
        records[label] = merge_records(found)
        if records[label]["contract"] == "failed":
            warnings.warn(Contract("failed", records[label]["contract_max_diff"]).describe(label))
    return records


def _default_out(spec: RunSpec) -> Path:
    """``runs/<dataset>-<corruption>-<timestamp>/``, or the newest unfinished run of the same grid when resuming."""
    dataset = Path(spec.dataset).name if "/" in spec.dataset else spec.dataset
    prefix = f"{dataset}-{'+'.join(spec.corruptions) if len(spec.corruptions) <= 3 else 'many'}"
    runs = Path("runs")
    if spec.resume and runs.is_dir():
        for candidate in sorted(runs.glob(prefix + "-*"), reverse=True):
            record = find_record(candidate)
            if record is not None and record.spec_hash == config_hash(spec.identity()) and not record.complete:
                return candidate
    return runs / f"{prefix}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def check_spec(spec: RunSpec) -> None:
    """Every setting of a run validated before anything is trained, created or written — for the command line and
    for library callers alike."""
    if not spec.models:
        raise UserError("--models names no model")
    requested_models(spec.models)
    if not spec.corruptions:
        raise UserError("--corruption names no corruption")
    validate.unique(spec.corruptions, "--corruption")
    for name in spec.corruptions:
        get_corruption(name)  # raises with suggestions when unknown
    check_task(spec.task)
    if spec.split not in EVALUATION_SPLITS:
        raise UserError(f"--split must be {' or '.join(EVALUATION_SPLITS)}, got {spec.split!r}")
    check_precision(spec.precision)
    validate.unique(spec.seeds, "seeds")
    if len(spec.seeds) > validate.MAX_SEEDS:
        raise UserError(f"{len(spec.seeds):,} seeds; at most {validate.MAX_SEEDS:,}")
    for seed in spec.seeds:
        validate.seed(seed, "every seed")
    validate.seed(spec.mask_seed, "--mask-seed")
    validate.seed(spec.dataset_seed, "the dataset seed")
    validate.at_least(spec.workers, 1, "--workers", validate.MAX_WORKERS)
    validate.at_least(spec.epochs, 1, "--epochs", validate.MAX_EPOCHS)
    if not spec.training_protocols:
        raise UserError("--protocols names no training protocol")
    check_protocols(list(spec.training_protocols))
    validate.bootstrap_count(spec.bootstrap)
    validate.device_name(spec.device)
    if spec.executor not in EXECUTORS:
        raise unknown("executor", spec.executor, EXECUTORS)
    if spec.ray_address is not None and spec.executor != "ray":
        raise UserError(f"--ray-address is for --executor ray, not {spec.executor}")
    chosen = requested_models(spec.models)[0] if spec.models != [ALL] else names()
    check_settings(chosen, spec.config, spec.overrides)
    for name in chosen:  # a label is a directory name of the run
        validate.path_name(format_label(name, spec.overrides), "--set (the model label it makes)")
    validate.output_dir(spec.out if spec.out is not None else Path("runs"), "--out")
    validate.checkpoint_cache()
    if spec.executor in EXTRAS:
        extra_module(spec.executor)  # a missing extra is one line before anything is written


def prepare(spec: RunSpec, store: FeatureStore) -> RunSpec:
    """``spec`` with its models resolved against the dataset (``all`` → every model that can run on it), after
    warning about degenerate features recorded in the store."""
    validate.trainable(store, spec.dataset)
    names_, explicit = requested_models(spec.models)
    models = resolve_models(names_, store.modalities, spec.task, explicit, store.labelled_tasks)
    for problem in recorded_problems(store):
        warnings.warn(f"degenerate features in {spec.dataset} ({problem}); the models will train on them as they "
                      f"are (see `avbench datasets info {spec.dataset}`)")
    return replace(spec, models=models)


def _unit_result(future: Future, kind: str, ts: TrainSpec, store: Any) -> Any:
    """A unit's outcome; its user error re-raised naming the unit, so a grid of many models says which failed; a
    worker that died or a machine fault (full disk, file-size limit) becomes one line naming the unit."""
    try:
        return future.result()
    except UserError as exc:
        task = task_for(model_class(ts.model), store.labelled_tasks, ts.task)
        raise UserError(f"{kind} of {ts.label} (seed {ts.seed}, task {task}) failed: {exc}") from None
    except BrokenProcessPool:
        raise EnvironmentFault(f"a worker process died during {kind} of {ts.label} (seed {ts.seed}): killed or out "
                               "of memory; run the same command again to resume") from None
    except Exception as exc:
        fault = environment_fault(exc)
        if fault is None:
            raise
        raise EnvironmentFault(f"{kind} of {ts.label} (seed {ts.seed}) failed: {fault}") from None


def _import_in_background(module: str) -> None:
    """Import ``module`` on a daemon thread while this process mostly waits for its workers. The plotting stack
    (matplotlib) takes ~0.4 s to import; after the last unit, with one core idle, that would be 0.4 s of the run's
    wall time, and while the workers evaluate it costs about half. A failure here is left for the real
    import to report; an import in progress is waited for by Python's import lock."""

    def target() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    threading.Thread(target=target, name="avbench-import", daemon=True).start()


def run(spec: RunSpec, progress: bool = True, console: Console | None = None) -> Path:
    """Check ``spec``, resolve its models against the dataset, execute the grid and write predictions, results,
    summary, plots and provenance. Returns the run directory. ``avbench run`` is this function: a notebook caller
    gets exactly the command line's checks and warnings."""
    start_local_workers(spec.executor, spec.workers)  # first: their import of torch overlaps the checks below
    check_spec(spec)  # every value checked before the dataset is opened or anything is written
    console = console or terminal.console(stderr=True)
    store = open_dataset(spec.dataset, seed=spec.dataset_seed, verify=False)  # a directory's content: the guard below
    spec = prepare(spec, store)
    corruptions = [resolve_corruption(name, spec.corruption_settings) for name in spec.corruptions]
    out = Path(spec.out) if spec.out is not None else _default_out(spec)
    info_path = out / RUN_JSON
    if info_path.exists() and not spec.resume:
        raise UserError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    _check_previous(out, spec)
    read = {m for name in spec.models for m in model_class(name).modalities}
    guard = RunGuard(store, read, store.verified)  # a large store is verified while the first units run
    with run_lock(out):
        return _run_locked(spec, store, corruptions, out, console, progress, guard)


def _plain(value: Any) -> Any:
    """A spec value JSON does not know: a typed record as its fields, anything else as text (paths)."""
    return value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else str(value)


def _read_previous(out: Path) -> RunRecord | None:
    """The run record already in ``out``, if any (one that cannot be read is not ours to overwrite)."""
    if not (out / RUN_JSON).exists():
        return None
    try:
        return read_record(out)
    except UserError as exc:
        raise UserError(f"{exc}; choose another --out") from None


def _check_previous(out: Path, spec: RunSpec) -> RunRecord | None:
    """``out`` may take this run: empty, the same grid (resumed), or a run of another grid that failed or was
    killed before it produced any predictions (the corrected command takes its place). A run whose recorded
    holder process is still running is refused even when its lock file was deleted."""
    previous = _read_previous(out)
    if previous is None:
        return None
    holder = previous.holder
    if previous.status == "running" and holder_alive(holder) and not _is_this_process(holder):
        raise UserError(f"{out} is being written by another avbench run (pid {holder['pid']} on {holder['host']}); "
                        "wait for it or choose another --out")
    if previous.spec_hash != config_hash(spec.identity()) and (
            previous.complete or any((out / "predictions").rglob("*.npz"))):
        raise UserError(f"{out} holds a different run (other models, seeds or settings); choose another --out")
    return previous


def _is_this_process(holder: Any) -> bool:
    """A record naming this very process is a leftover of an earlier call in it (we hold the lock now)."""
    me = this_process()
    return isinstance(holder, dict) and (holder.get("host"), holder.get("pid")) == (me["host"], me["pid"])


def _failure(exc: BaseException) -> str:
    """The reason a failed run's record gives: the one line the command printed."""
    fault = environment_fault(exc)
    if fault is not None:
        return str(fault)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return str(exc) or type(exc).__name__


def _run_locked(spec: RunSpec, store: Any, corruptions: list[Any], out: Path, console: Console,
                progress: bool, guard: RunGuard) -> Path:
    """The run, its record first ``running`` (with this process as its holder), then ``complete``; on any failure
    ``failed`` with the one-line reason (written in place when the disk is too full for a new file)."""
    info_path = out / RUN_JSON
    _check_previous(out, spec)  # again under the lock: another writer may have finished meanwhile
    running = {"status": "running", "spec_hash": config_hash(spec.identity()), "holder": this_process(),
               "spec": json.loads(json.dumps(asdict(spec), default=_plain)), "configuration": recorded(spec)}
    try:
        sweep_temporaries(out, everything=True)  # we hold the lock: every temporary here is a killed write's
        write_json(info_path, running)
        return _execute(spec, store, corruptions, out, console, progress, guard)
    except BaseException as exc:
        record = {**running, "status": "failed", "error": _failure(exc)}
        del record["holder"]
        write_json_best_effort(info_path, record)
        raise


def _execute(spec: RunSpec, store: Any, corruptions: list[Any], out: Path, console: Console, progress: bool,
             guard: RunGuard) -> Path:
    from avbench.output.run_report import write_report  # deferred: matplotlib (imported meanwhile, see below)

    started = time.time()
    info_path = out / RUN_JSON
    train_specs = spec.train_specs()
    twins = shared_checkpoints(train_specs, store)  # trainings another one makes redundant (same checkpoint)
    ctx = UnitContext(dataset=spec.dataset, dataset_seed=spec.dataset_seed, run_dir=str(out),
                      mask_seed=spec.mask_seed, device=spec.device, split=spec.split, store_path=str(store.path),
                      extra={"corruption_settings": spec.corruption_settings} if spec.corruption_settings else {})
    # a unit is done when its predictions came from the checkpoint cached now (another cache's are redone)
    cached = {ts: cached_weights(ts, store) for ts in train_specs}
    pending_evals = {ts: [c.name for c in corruptions
                          if not predictions.is_current(predictions.path(out, ts.label, ts.seed, c.name),
                                                        len(c.levels), cached[ts])]
                     for ts in train_specs}
    total = len(train_specs) + sum(len(v) for v in pending_evals.values())
    executor = make_executor(spec.executor, spec.workers, out, spec.ray_address,
                             gpus_per_unit=1 if spec.device.startswith("cuda") else 0, slurm=spec.slurm)
    futures: dict[Future, tuple[str, TrainSpec]] = {}
    weights: dict[str, dict[int, str]] = {}
    labels = [ts.label for ts in train_specs[:: len(spec.seeds)]]
    outstanding = {label: len(spec.seeds) for label in labels}  # a label's units not finished yet
    scored: dict[str, RunScores] = {}
    # each model's evaluation seconds, for the next run's order (see avbench.execution.scheduling): the part every run
    # repeats (training is cached); not of resumed models
    seconds = {label: 0.0 for label in labels
               if all(len(pending_evals[ts]) == len(corruptions) for ts in train_specs if ts.label == label)}
    order = {label: rank for rank, label in enumerate(longest_first(labels, spec.dataset, spec.config))}
    for twin in (t for group in twins.values() for t in group):
        seconds.pop(twin.label, None)  # its predictions are copied: nothing to time
    waiting: dict[tuple[TrainSpec, str], list[TrainSpec]] = {}  # (spec, corruption) → twins that copy its result

    def score(label: str) -> None:
        """Score a model as soon as its last unit finishes: the main process does it while the workers evaluate
        the other models, instead of for all of them after the last unit."""
        scored[label] = score_run(out, store.name, [label], spec.seeds, corruptions, spec.bootstrap, spec.mask_seed)

    def unit_done(bar: Any, kind: str, ts: TrainSpec, note: str = "") -> None:
        bar.update(advance=1, description=f"{kind} {ts.label} seed {ts.seed} done{note}")
        outstanding[ts.label] -= 1
        if outstanding[ts.label] == 0:
            score(ts.label)

    def copy(bar: Any, source: TrainSpec, twin: TrainSpec, name: str) -> None:
        copy_eval_unit(ctx, source, twin, name)
        unit_done(bar, f"eval {name}", twin, f" (as {source.label})")

    def trained(bar: Any, ts: TrainSpec, weights_sha256: str) -> None:
        """A training's twins have its weights: their evaluations copy its predictions, now or when they exist."""
        for twin in twins.get(ts, []):
            weights.setdefault(twin.label, {})[twin.seed] = weights_sha256
            outstanding[twin.label] += len(pending_evals[twin])
            for name in pending_evals[twin]:
                if name in pending_evals[ts]:
                    waiting.setdefault((ts, name), []).append(twin)
                else:
                    copy(bar, ts, twin, name)
            unit_done(bar, "train", twin, f" (the weights of {ts.label})")

    finished = False
    try:
        with terminal.progress(console, f"{len(train_specs)} trainings + evaluations", total, progress) as bar:
            # longest models first, so that no long evaluation is left to run alone at the end (see scheduling)
            redundant = {t for group in twins.values() for t in group}
            for ts in sorted(train_specs, key=lambda ts: order[ts.label]):
                if ts not in redundant:
                    futures[executor.submit(run_train_unit, ctx, ts)] = ("train", ts)
            if not isinstance(executor, InlineExecutor):
                _import_in_background("avbench.output.plots")  # needed at the end, when it would run alone
            while futures:
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                if guard.failed() is not None:  # the store's background verification failed: stop now
                    raise guard.failed()  # type: ignore[misc]
                for future in done:
                    kind, ts = futures.pop(future)
                    outcome = _unit_result(future, kind, ts, store)
                    bar.update(advance=1, description=f"{kind} {ts.label} seed {ts.seed} done")
                    outstanding[ts.label] -= 1
                    if kind != "train" and ts.label in seconds:
                        if outcome["skipped"]:  # done by an earlier attempt: not timed here
                            del seconds[ts.label]
                        else:
                            seconds[ts.label] += float(outcome["seconds"])
                    if kind == "train":
                        weights.setdefault(ts.label, {})[ts.seed] = outcome["weights_sha256"]
                        for name in pending_evals[ts]:
                            futures[executor.submit(run_eval_unit, ctx, ts, name)] = (f"eval {name}", ts)
                        outstanding[ts.label] += len(pending_evals[ts])
                        trained(bar, ts, outcome["weights_sha256"])
                    else:
                        for twin in waiting.pop((ts, kind.removeprefix("eval ")), []):
                            copy(bar, ts, twin, kind.removeprefix("eval "))
                    if outstanding[ts.label] == 0:
                        score(ts.label)
        finished = True
        record_seconds(seconds, spec.dataset, spec.config)
    finally:
        # When every unit has finished, the workers' exit (for spawned workers, ~1 s of interpreter teardown each)
        # overlaps the scoring below instead of delaying it; after a failure, wait for them.
        executor.shutdown(wait=not finished, cancel_futures=True)
    guard.check()  # scores only from a store verified and unchanged since the run began
    evaluation = evaluation_records(out, labels, spec.seeds, corruptions)
    write_scores(out, merge_scores([scored[label] for label in labels]))
    info = provenance(spec, store, labels, corruptions, started, weights)
    info.update({"status": "complete", "spec_hash": config_hash(spec.identity()), "evaluation": evaluation,
                 "split": spec.split, "configuration": recorded(spec)})
    if spec.corruption_settings:
        info["corruption_settings"] = spec.corruption_settings
    parse_record(info, info_path)  # the record every reader will read: typed before it is written
    write_json(info_path, info)
    write_report(out)
    return out

