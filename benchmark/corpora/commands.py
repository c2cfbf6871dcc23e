"""CLI for real corpora: ``avbench datasets info`` and ``avbench extract`` (mounted by avbench.cli)."""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from avbench import corpora

from avbench.output import choices, formats, terminal
from avbench.corpora.checks import problems
from avbench.corpora.labels import CorpusLabels
from avbench.corpora.summary import CorpusSummary, Stats, StoreDescription, describe_store, summarize
from avbench.errors import UserError
from avbench.data.store import FeatureStore
from avbench.data.vocabulary import SPLITS

if TYPE_CHECKING:  # extraction pulls in torch: imported when a command needs it
    from avbench.corpora.extract import ExtractReport, Selection

FIRST_FAILURES = 5  # failed clip ids shown on screen; the full list is in <out>.failed.csv

datasets_app = typer.Typer(help="Real corpora: list them and describe a local checkout.", no_args_is_help=True)

# Corpus options shared by `datasets info` and `extract` (each corpus accepts only its own)
CorpusName = Annotated[str, typer.Option("--dataset", help="corpus name (see `avbench list datasets`)",
                                         **choices.lazy_choice(corpora.names, "NAME"))]
Root = Annotated[Path, typer.Option("--root", help="local checkout of the corpus")]
RatingModality = Annotated[Optional[str], typer.Option(
    "--rating-modality", help="crema-d: ratings to use, audio | video | audio-visual (default audio-visual)")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="crema-d: seed of the actor-independent split (default 0)")]
Balance = Annotated[Optional[bool], typer.Option(
    "--balance/--no-balance", help="crema-d: balance sex and age across splits (default on)")]
Fold = Annotated[Optional[int], typer.Option(
    "--fold", help="msp-improv: test session 1-6; the next session is dev (default 1)")]
TestSet = Annotated[Optional[str], typer.Option("--test-set", help="msp-podcast: Split_Set used as test (default Test1)")]


def _options(**values: Any) -> dict[str, Any]:
    """Only the options the user set, so each loader keeps its own defaults and rejects foreign ones."""
    return {k: v for k, v in values.items() if v is not None}


def _fmt(stats: Stats | None, digits: int = 2) -> str:
    if stats is None:
        return "unknown"
    return f"{stats.mean:.{digits}f} (min {stats.min:.{digits}f}, max {stats.max:.{digits}f}; {stats.known} clips)"


def render_summary(summary: CorpusSummary, console: Console) -> None:
    overview = Table(title=f"{summary.name}", show_header=False)
    overview.add_row("clips", str(summary.clips))
    overview.add_row("speakers", str(summary.speakers))
    overview.add_row("raters per clip", _fmt(summary.raters))
    overview.add_row("duration (s)", _fmt(summary.duration))
    for reason, count in summary.excluded.items():
        overview.add_row("excluded", f"{count} ({reason})")
    for name, stats in summary.attributes.items():
        overview.add_row(name, _fmt(stats))
    if summary.options:
        overview.add_row("options", ", ".join(f"{k}={v}" for k, v in summary.options.items()))
    console.print(overview)

    prevalence = Table("emotion", "clips with share > 1/C", "%", title="label prevalence")
    for emotion, count in summary.prevalence.items():
        prevalence.add_row(emotion, str(count), f"{100 * count / max(summary.clips, 1):.1f}")
    console.print(prevalence)

    multi = Table("emotions present", "clips", title="multi-label counts")
    for k, count in summary.multi_label.items():
        multi.add_row(str(k), str(count))
    console.print(multi)

    splits = Table("split", "clips", "speakers", title="splits")
    for split, (clips, speakers) in summary.splits.items():
        splits.add_row(split, str(clips), str(speakers))
    console.print(splits)
    if summary.attribution:
        console.print(summary.attribution, style="dim")


class ClipProgress:
    """Progress over the clips extracted now (reused ones take no time, so they would distort the ETA).

    On a terminal a live bar, started only once the encoders have loaded (no 0/N bar while they load); to a file
    or pipe plain lines, the first clip's at once and then one every ``interval`` seconds, so a log shows how far
    an hours-long extraction is while it runs.
    """

    def __init__(self, console: Console, description: str, interval: float = 30.0) -> None:
        self.console, self.description, self.interval = console, description, interval
        self.bar: Progress | None = None
        self.started = self.last = 0.0

    def __enter__(self) -> ClipProgress:
        self.console.print("loading encoders ...", highlight=False)
        return self

    def start(self, selection: Selection, to_extract: int, reused: int) -> None:
        for note in selection.notes:
            self.console.print(note, highlight=False)
        for warning in selection.warnings:
            self.console.print(f"warning: {warning}", style="bold yellow", highlight=False)
        self.console.print(f"{to_extract} clip(s) to extract, {reused} done by an earlier run", highlight=False)
        self.started = self.last = time.monotonic()
        if self.console.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("ETA"), TimeRemainingColumn())
            self.bar = Progress(*columns, console=self.console)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=to_extract)

    def advance(self, done: int, total: int, clip_id: str) -> None:
        now = time.monotonic()
        if self.bar is not None:
            self.bar.update(self.task, completed=done)
        elif done in (1, total) or now - self.last >= self.interval:
            self.last = now
            per_clip = (now - self.started) / done
            self.console.print(f"{self.description}: {done}/{total} clips, {per_clip:.1f} s per clip, "
                               f"ETA {_duration(per_clip * (total - done))}", highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _store_or_corpus(name: str | None, dataset: str | None) -> tuple[str, Path | None]:
    """``datasets info`` takes the corpus like ``extract`` (``--dataset``) or positionally; a store path also works."""
    if name and dataset and name != dataset:
        raise UserError(f"give the corpus once: positional {name!r} and --dataset {dataset!r} differ")
    chosen = dataset or name
    if not chosen:
        raise UserError("name a corpus (--dataset crema-d, see `avbench list datasets`) or a feature store directory")
    path = Path(chosen).expanduser()
    if (path / "meta.json").is_file() or (chosen not in corpora.names() and ("/" in chosen or path.exists())):
        return chosen, path  # a store (FeatureStore says what is wrong when it is not one)
    return chosen, None


@datasets_app.command("info")
def info(
    name: Optional[str] = typer.Argument(None, help="corpus name, or a feature store directory to describe"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="corpus name (as for extract) or store directory"),
    root: Optional[Path] = typer.Option(None, "--root", help="local checkout of the corpus"),
    modalities: Optional[str] = typer.Option(None, "--modalities", help="modalities whose media to count "
                                             "(default: the corpus's)"),
    rating_modality: RatingModality = None, seed: Seed = None, balance: Balance = None, fold: Fold = None,
    test_set: TestSet = None,
    fmt: str = typer.Option("table", "--format", help="json: the numbers as avbench.corpora.summary's "
                                                      "CorpusSummary (with the media found) or StoreDescription",
                            **choices.format_choice(formats.DOCUMENTS)),
) -> None:
    """A corpus checkout (clips, raters, prevalence, splits, media found per modality) or an extracted store."""
    formats.get(fmt, formats.DOCUMENTS)  # before the corpus is read
    chosen, store = _store_or_corpus(name, dataset)
    console = terminal.console()
    if store is not None:
        description = describe_store(FeatureStore(store))
        text = formats.render_data(fmt, asdict(description))
        if text is not None:
            typer.echo(text, nl=False)
        else:
            render_store(description, console)
        return
    if root is None:
        raise UserError(f"{chosen}: pass --root with the local checkout of the corpus")
    labels = corpora.load_labels(chosen, root, **_options(rating_modality=rating_modality, seed=seed,
                                                           balance=balance, fold=fold, test_set=test_set))
    summary = summarize(labels)
    media = media_found(labels, _modalities(modalities) or corpora.get(chosen).modalities, root)
    text = formats.render_data(fmt, {**asdict(summary), "media": media})
    if text is not None:
        typer.echo(text, nl=False)
        return
    render_summary(summary, console)
    render_media(media, root, console)


def media_found(labels: CorpusLabels, modalities: tuple[str, ...], root: Path) -> dict[str, dict[str, Any]]:
    """Per modality: clips whose files the checkout has (in all and per split, each with the split's size) and
    where (under ``root``) the loader looked."""
    from avbench.corpora.clips import has_inputs  # deferred: torch, av

    clips = labels.clips
    found_media = {}
    for modality in modalities:
        found = has_inputs(clips, modality)
        found_media[modality] = {
            "clips": int(found.sum()), "of": len(clips),
            "splits": {s: [int((found & (clips["split"] == s)).sum()), int((clips["split"] == s).sum())]
                       for s in SPLITS},
            "looked_for": labels.media.get(modality, "?").replace(f"{Path(root).expanduser()}/", ""),
        }
    return found_media


def render_media(media: dict[str, dict[str, Any]], root: Path, console: Console) -> None:
    """:func:`media_found` as a table."""
    table = Table("modality", "clips with media", *SPLITS, title=f"media in the checkout {root}")
    table.add_column("looked for (under the root)", overflow="fold")  # cut short, it would hide the layout
    for modality, found in media.items():
        per_split = [f"{found['splits'][s][0]}/{found['splits'][s][1]}" for s in SPLITS]
        table.add_row(modality, f"{found['clips']}/{found['of']}", *per_split, found["looked_for"])
    console.print(table)


def render_store(description: StoreDescription, console: Console) -> None:
    overview = Table(title=f"feature store {description.path}", show_header=False)
    overview.add_row("corpus", description.name)
    overview.add_row("clips", ", ".join(f"{s} {n}" for s, n in description.splits.items()))
    overview.add_row("split", description.split)
    overview.add_row("tasks with labels", ", ".join(description.tasks) or "none")
    for reason, count in description.failures.items():
        overview.add_row("failed", f"{count} ({reason})")
    if description.failure_list:
        overview.add_row("failed clips", description.failure_list)
    console.print(overview)
    table = Table("modality", "shape", "dtype", "rate", "frames", title="modalities")
    table.add_column("encoder sha256", overflow="fold")
    for modality, row in description.modalities.items():
        table.add_row(modality, *row.values())
    console.print(table)
    _print_problems(description.problems, console)


def _print_problems(problems: list[str], console: Console) -> None:
    if problems:
        console.print("warning: degenerate features (a model trained on them learns nothing from those frames):",
                      style="bold yellow")
        for line in problems:
            console.print(f"  {line}", style="yellow", highlight=False)
    else:
        console.print("features: no all-zero, constant, NaN or float16-underflowing frames")


def _modalities(text: str | None) -> tuple[str, ...] | None:
    return tuple(m.strip() for m in text.split(",") if m.strip()) if text else None


def extract(
    dataset: CorpusName = ...,
    root: Root = ...,
    out: Path = typer.Option(..., "--out", help="feature store directory to create"),
    modalities: str | None = typer.Option(None, "--modalities", help="comma list of what to extract (default: the "
                                          "corpus's); e.g. audio for a checkout without videos"),
    audio_model: str | None = typer.Option(None, "--audio-model", help="hub id or local directory"),
    audio_layers: str | None = typer.Option(None, "--audio-layers", help="all | last hidden state(s)"),
    video_weights: Path | None = typer.Option(None, "--video-weights",
                                                 help="MobileNetV2 AffectNet checkpoint (safetensors/state dict)"),
    text_model: str | None = typer.Option(None, "--text-model", help="hub id or local directory"),
    fps: float = typer.Option(30.0, "--fps", help="video frames per second stored"),
    dtype: str = typer.Option("float16", "--dtype", help="float16 | float32 storage"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:n]"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="video frames per detector/encoder batch"),
    available: bool = typer.Option(False, "--available", help="only the clips whose media the checkout has "
                                   "(a partial checkout)"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N clips (smoke runs)"),
    skip_failed: bool = typer.Option(False, "--skip-failed", help="write the store without clips that failed"),
    force: bool = typer.Option(False, "--force", help="redo an extraction the store at --out already holds"),
    executor: str = typer.Option("local", "--executor", help="where the workers run", **choices.EXECUTOR),
    workers: int = typer.Option(1, "--workers", min=1, help="workers the clips are sharded across"),
    clips_per_call: int = typer.Option(8, "--clips-per-call", min=1,
                                       help="clips per audio/text encoder call (padded, with attention masks)"),
    rating_modality: RatingModality = None, seed: Seed = None, balance: Balance = None, fold: Fold = None,
    test_set: TestSet = None,
    signal_loss: Optional[str] = typer.Option(None, "--signal-loss", help="CORRUPTION[:LEVEL,…]: also extract the "
                                              "test clips after packet loss of their media, one store per level and "
                                              "concealment (<out>.signal/…)"),
    concealment: str = typer.Option("zero,repeat,interpolate", "--concealment",
                                    help="--signal-loss: concealments of lost audio packets (registered names)"),
    video_loss: str = typer.Option("freeze", "--video-loss", help="--signal-loss: lost video frames freeze | black"),
    crossfade_ms: float = typer.Option(5.0, "--crossfade-ms", help="--signal-loss: cross-fade at packet edges (ms)"),
    mask_seed: int = typer.Option(0, "--mask-seed", help="--signal-loss: seed of the loss patterns (as for run)"),
    traces: Optional[Path] = typer.Option(None, "--traces", help="--signal-loss trace: folder of loss traces"),
    packet_ms: Optional[float] = typer.Option(None, "--packet-ms", help="--signal-loss trace: packet length (ms)"),
    ge_params: list[str] = typer.Option([], "--ge-params", help="--signal-loss gilbert-elliott: a level p,r,k,h"),
) -> None:
    """Extract frozen-encoder features of a corpus into a feature store; an interrupted run resumes."""
    from avbench.corpora.extract import ExtractConfig, run_extraction  # deferred: av, safetensors, torch
    from avbench.corpora.signal_loss import check_signal_options, extract_signal_loss  # deferred: torch, av

    plan = check_signal_options(signal_loss, concealment, video_loss, crossfade_ms, mask_seed, traces, packet_ms,
                                ge_params)  # before anything loads
    corpus = corpora.get(dataset)
    config = ExtractConfig.for_corpus(
        corpus, _modalities(modalities), audio_model=audio_model, audio_layers=audio_layers,
        video_weights=str(video_weights) if video_weights else None, text_model=text_model, fps=fps, dtype=dtype,
    )
    labels = corpora.load_labels(dataset, root, **_options(rating_modality=rating_modality, seed=seed,
                                                            balance=balance, fold=fold, test_set=test_set))
    console = terminal.console(stderr=True)
    with ClipProgress(console, f"extracting {dataset}") as progress:
        report = run_extraction(labels, out, config, device=device, batch_size=batch_size, skip_failed=skip_failed,
                                available=available, limit=limit, force=force, on_start=progress.start,
                                on_progress=progress.advance, executor=executor, workers=workers,
                                clips_per_call=clips_per_call)
    if report.up_to_date:
        console.print(f"{report.store} already holds these {report.reused} clip(s) extracted with these settings: "
                      "nothing to do (--force redoes it)")
    else:
        console.print(f"{report.extracted} clip(s) extracted, {report.reused} reused from an earlier run")
    if report.failures:
        _print_failures(report, console)
    if report.store is None:
        console.print("store not written: fix the clips above and rerun (finished clips are kept), "
                      "or pass --skip-failed to write it without them", style="red")
        raise typer.Exit(1)
    _print_problems(problems(report.checks), console)
    console.print(f"feature store written to {report.store}" if not report.up_to_date else f"store: {report.store}")
    if plan is not None:
        extract_signal_loss(labels, report.store, config, plan, device, batch_size, clips_per_call, console)


def _print_failures(report: ExtractReport, console: Console) -> None:
    """Counts by reason and the first few clips; the full list is in the failures file, not on the screen."""
    table = Table("clips", "reason", title=f"{len(report.failures)} clip(s) failed")
    for reason, count in report.failure_reasons().items():
        table.add_row(str(count), reason)
    console.print(table)
    first = list(report.failures)[:FIRST_FAILURES]
    console.print(f"first: {', '.join(first)}{', ...' if len(report.failures) > len(first) else ''}; "
                  f"full list: {report.failure_file}", highlight=False)
