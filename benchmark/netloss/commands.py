"""CLI of loss as networks cause it: ``avbench datasets traces``, ``avbench fit-loss`` and ``avbench compare-loss``
(mounted by :mod:`avbench.cli`). Every input is checked before work starts; bad input is one error line."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from avbench.output import formats, terminal
from avbench.errors import UserError
from avbench.corruptions.traces import read_traces, trace_statistics
from avbench.corruptions.loss_fit import fit_gilbert_elliott
from avbench.corruptions.configured import corruption_settings
from avbench.netloss.report import FOLDER_IN_RUN, kendall_table, model_table, write_outputs
from avbench import corruptions
from avbench import validate
from avbench.data.datasets import open_dataset

Format = typer.Option("table", "--format", help=formats.help_text(formats.DOCUMENTS))
PacketMs = typer.Option(20.0, "--packet-ms", help="packet length of the traces in ms (the PLC Challenge's 20)")


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def traces(
    folder: Path = typer.Argument(..., help="folder of trace files (*.txt, one 0/1 flag per packet, 1 = lost)"),
    packet_ms: float = PacketMs,
    fmt: str = Format,
) -> None:
    """What a trace folder holds: loss rate, burst lengths, gap lengths and the level groups of `trace`."""

    chosen = formats.get(fmt, formats.DOCUMENTS)
    stats = trace_statistics(read_traces(folder, packet_ms))
    out = terminal.console()
    if chosen.document is not None:
        out.file.write(chosen.document(stats))
        return
    ms = stats["packet_ms"]
    overview = terminal.readable_table("", "", title=f"traces in {stats['folder']}", show_header=False)
    rate = stats["trace_loss_rate"]
    for key, value in (("traces", f"{stats['traces']}"),
                       ("packets", f"{stats['packets']:,} of {ms:g} ms ({stats['seconds']:.1f} s)"),
                       ("loss rate", f"{100 * stats['loss_rate']:.2f} % of packets"),
                       ("per trace", f"{100 * rate['min']:.2f} % min, {100 * rate['median']:.2f} % median, "
                                     f"{100 * rate['max']:.2f} % max"),
                       ("content digest", stats["digest"])):
        terminal.add_plain_row(overview, key, value)
    out.print(overview)
    runs = terminal.readable_table("runs", "count", "mean", "median", "90th pct", "max", title="bursts (lost runs) "
                                   "and gaps (received runs between losses), in packets",
                                   right=("count", "mean", "median", "90th pct", "max"))
    for name in ("bursts", "gaps"):
        r = stats[name]
        terminal.add_plain_row(runs, name, str(r["count"]), _number(r["mean"], 2), _number(r["median"], 1),
                               _number(r["p90"], 1), _number(r["max"], 0))
    out.print(runs)
    histogram = terminal.readable_table("burst length (packets)", "bursts", "share", title="burst-length distribution",
                                        right=("bursts", "share"))
    total = max(stats["bursts"]["count"], 1)
    for length, count in stats["bursts"]["histogram"].items():
        terminal.add_plain_row(histogram, length, str(count), f"{100 * count / total:.1f} %")
    out.print(histogram)
    levels = terminal.readable_table("level of `trace`", "traces", "pooled loss", title="levels (traces grouped by "
                                     "loss rate; a `clean` level comes first)", right=("traces", "pooled loss"))
    for level in stats["levels"]:
        terminal.add_plain_row(levels, level["label"], str(level["traces"]), f"{level['loss_pct']:.2f} %")
    out.print(levels)
    out.print(f"replay: avbench run --corruption trace --traces {stats['folder']}"
              + (f" --packet-ms {ms:g}" if ms != 20.0 else ""), markup=False, highlight=False, soft_wrap=True)


def fit_loss(
    folder: Path = typer.Argument(..., help="folder of trace files (*.txt, one 0/1 flag per packet, 1 = lost)"),
    packet_ms: float = PacketMs,
    fmt: str = Format,
) -> None:
    """Gilbert–Elliott parameters (p, r, k, h) of a trace folder, and the command that simulates them."""
    chosen = formats.get(fmt, formats.DOCUMENTS)
    found = read_traces(folder, packet_ms)
    err = terminal.console(stderr=True)
    err.print(f"fitting {sum(t.lost.size for t in found.traces):,} packets of {len(found.traces)} trace(s) "
              "(method of moments, then Baum–Welch) …", highlight=False)
    fit = fit_gilbert_elliott([t.lost for t in found.traces])
    out = terminal.console()
    if chosen.document is not None:
        out.file.write(chosen.document({"folder": str(found.folder), "digest": found.digest,
                                        "packet_ms": found.packet_ms, **fit.record()}))
        return
    table = terminal.readable_table("parameter", "value", "meaning", title=f"Gilbert–Elliott fit of {found.folder}",
                                    right=("value",))
    for name, value, meaning in (("p", fit.p, "P(good → bad) per packet"), ("r", fit.r, "P(bad → good) per packet"),
                                 ("k", fit.k, "P(received | good)"), ("h", fit.h, "P(received | bad)")):
        terminal.add_plain_row(table, name, f"{value:.4f}", meaning)
    out.print(table)
    check = terminal.readable_table("statistic", "traces", "fitted channel", title="does the fit reproduce the "
                                    "traces?", right=("traces", "fitted channel"))
    terminal.add_plain_row(check, "loss rate", f"{100 * fit.observed_loss:.2f} %", f"{100 * fit.model_loss:.2f} %")
    terminal.add_plain_row(check, "mean burst (packets)", _number(fit.observed_mean_burst, 2),
                           _number(fit.model_mean_burst, 2))
    out.print(check)
    out.print(f"log-likelihood {fit.log_likelihood:.4f} per packet after {fit.iterations} Baum–Welch iteration(s) "
              f"from the {fit.start} start; {fit.packets:,} packets of {found.packet_ms:g} ms", highlight=False)
    out.print(f"simulate it on any corpus: {fit.command()}", markup=False, highlight=False, soft_wrap=True)


def compare_loss(
    dataset: Optional[str] = typer.Option(None, "--dataset", help="the clean feature store (whose .signal/ holds "
                                          "the signal-level stores)"),
    corruption: Optional[str] = typer.Option(None, "--corruption", help="the corruption extracted with "
                                             "--signal-loss (default: the run's, with --run)"),
    run_dir: Optional[Path] = typer.Option(None, "--run", help="a run directory: its models, seeds and settings "
                                           "(and --dataset, its store); results go to RUN/compare-loss and its report"),
    models: Optional[str] = typer.Option(None, "--models", help="all | name,name,… (default all, or the run's)"),
    concealment: Optional[str] = typer.Option(None, "--concealment", help="which concealments (default: every one "
                                              "extracted)"),
    seeds: Optional[int] = typer.Option(None, help="number of seeds 0..N-1 (default 1)"),
    config: Optional[str] = typer.Option(None, help="tiny | paper (default tiny)"),
    set_: list[str] = typer.Option([], "--set", help="constructor override for every model key=value"),
    task: Optional[str] = typer.Option(None, help="emotion | attributes (default: each model's own)"),
    epochs: Optional[int] = typer.Option(None, help="override every recipe's epochs"),
    mask_seed: Optional[int] = typer.Option(None, "--mask-seed", help="seed of the loss patterns (default 0)"),
    bootstrap: Optional[int] = typer.Option(None, help="bootstrap resamples (default 1000)"),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    traces_dir: Optional[Path] = typer.Option(None, "--traces", help="`trace`: the folder given to extract"),
    packet_ms: Optional[float] = typer.Option(None, "--packet-ms", help="`trace`: the packet length given to extract"),
    ge_params: list[str] = typer.Option([], "--ge-params", help="`gilbert-elliott`: the levels given to extract"),
    signal: Optional[Path] = typer.Option(None, "--signal", help="where the signal-level stores are (default "
                                          "<dataset>.signal)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="output directory (default "
                                           "runs/compare-loss-<dataset>-<corruption>-<time>)"),
) -> None:
    """Feature-level masking beside signal-level loss with each concealment: score gaps and Kendall's τ."""
    from avbench.netloss.compare import ComparisonSpec  # deferred: torch
    from avbench.netloss.compare import compare_loss as run_comparison  # deferred: torch
    from avbench.runner import ALL, requested_models  # deferred: torch

    fields: dict[str, Any] = {}
    if run_dir is not None:
        fields = _from_run(run_dir, dataset, seeds=seeds, config=config, set_=set_, task=task, epochs=epochs,
                           mask_seed=mask_seed, bootstrap=bootstrap, out_dir=out_dir)
        corruption = corruption or fields.pop("only_corruption")
        fields.pop("only_corruption", None)
        out_dir = run_dir / FOLDER_IN_RUN
    elif dataset is None:
        raise UserError("compare-loss needs --dataset (the clean store) or --run (a run directory)")
    if corruption is None:
        raise UserError("name the corruption extracted with --signal-loss: --corruption NAME")

    corruptions.get(corruption)
    settings = corruption_settings([corruption], traces_dir, packet_ms, ge_params) or {
        k: v for k, v in fields.pop("corruption_settings", {}).items() if k == corruption}
    fields.pop("corruption_settings", None)
    if models:
        names, explicit = requested_models([m.strip() for m in models.split(",") if m.strip()])
        fields.pop("models", None)
    elif "models" in fields:
        names, explicit = fields.pop("models"), True
    else:
        names, explicit = requested_models([ALL])

    spec = ComparisonSpec(
        dataset=fields.pop("dataset", dataset), corruption=corruption, corruption_settings=settings, models=names,
        explicit=explicit, concealments=validate.unique([c.strip() for c in concealment.split(",") if c.strip()],
                                                        "--concealment") if concealment else None,
        seeds=fields.pop("seeds", None) or list(range(seeds or 1)),
        config=fields.pop("config", None) or config or "tiny",
        overrides=fields.pop("overrides", None) or validate.parse_settings(set_), task=fields.pop("task", task),
        epochs=fields.pop("epochs", epochs), precision=fields.pop("precision", "fp32"),
        mask_seed=fields.pop("mask_seed", mask_seed if mask_seed is not None else 0),
        bootstrap=fields.pop("bootstrap", bootstrap if bootstrap is not None else 1000), device=device,
        signal=str(signal) if signal else None, out=str(out_dir) if out_dir else None)
    err = terminal.console(stderr=True)
    result = run_comparison(spec, err)
    out = terminal.console()
    for table in (model_table(result.models), kendall_table(result.kendall)):
        terminal.print_table(out, table)
        for note in table.notes:
            out.print(note, markup=False, highlight=False, soft_wrap=True)
    levels = ", ".join(lv.label for lv in result.corruption.levels)
    intro = (f"{result.dataset}: {result.corruption.name} levels {levels}; models trained on the clean store; mask seed {spec.mask_seed}; {spec.bootstrap} bootstrap resamples. "
             "Feature level: the clean features with the level's keep-masks. Signal level: the features of the media "
             "after losing the same packets, concealed.")
    for path in write_outputs(result.models, result.levels, result.kendall, result.corruption.x_label, result.out,
                              intro):
        out.print(f"written: {path}", markup=False, highlight=False)
    if run_dir is not None and (run_dir / "report.html").is_file():
        from avbench.output.run_report import write_report  # deferred: scipy

        out.print(f"report: {write_report(run_dir)}", markup=False, highlight=False)


def _from_run(run_dir: Path, dataset: str | None, **given: Any) -> dict[str, Any]:
    """A run's dataset, models, seeds and settings; an option the run already fixes is refused, not mixed in.

    A finished run records its store by name and fingerprint, not by path: ``--dataset`` gives the store (checked
    against the fingerprint); the embedded datasets are found by name."""

    from avbench.models import parse_label  # deferred: torch
    from avbench.rundir.record import read_record  # deferred: pydantic

    clashing = [f"--{name.rstrip('_').replace('_', '-')}" for name, value in given.items() if value not in (None, [])]
    if clashing:
        raise UserError(f"--run takes its seeds and settings from the run; drop {', '.join(clashing)}")
    info = read_record(run_dir)
    record = info.spec if not info.complete else info.as_dict()
    if not all(key in record for key in ("models", "seeds", "corruptions")):
        raise UserError(f"{run_dir}/run.json records no models, seeds and corruptions")
    source = dataset or str(info.setting("dataset", ""))
    try:
        store = open_dataset(source, seed=int(record.get("dataset_seed", 0)))
    except UserError:
        raise UserError(f"{run_dir} ran on {info.setting('dataset')!r}: pass --dataset with the path of its feature "
                        "store") from None
    if info.dataset_fingerprint is not None and store.fingerprint != info.dataset_fingerprint:
        raise UserError(f"{source} is not the store {run_dir} ran on (fingerprint {store.fingerprint}, the run's "
                        f"{info.dataset_fingerprint})")
    overrides = dict(record.get("overrides") or {})
    names = [parse_label(str(label))[0] for label in record["models"]]  # labels carry the overrides
    chosen = list(record["corruptions"])
    return {"dataset": source, "models": names, "seeds": [int(s) for s in record["seeds"]],
            "config": record.get("config", "tiny"), "overrides": overrides, "task": record.get("task"),
            "epochs": record.get("epochs"), "precision": record.get("precision", "fp32"),
            "mask_seed": int(record.get("mask_seed", 0)), "bootstrap": int(record.get("bootstrap", 1000)),
            "corruption_settings": dict(info.setting("corruption_settings") or {}),
            "only_corruption": chosen[0] if len(chosen) == 1 else None}
