"""CLI for real corpora: ``avbench datasets info`` and ``avbench extract`` (mounted by avbench.cli)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from avbench import corpora, terminal
from avbench.corpora.summary import CorpusSummary, Stats, summarize

datasets_app = typer.Typer(help="Real corpora: list them and describe a local checkout.", no_args_is_help=True)

# Corpus options shared by `datasets info` and `extract` (each corpus accepts only its own)
CorpusName = Annotated[str, typer.Option("--dataset", help="corpus name (see `avbench list datasets`)")]
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


@datasets_app.command("info")
def info(
    name: str = typer.Argument(..., help="corpus name (see `avbench list datasets`)"),
    root: Root = ...,
    rating_modality: RatingModality = None, seed: Seed = None, balance: Balance = None, fold: Fold = None,
    test_set: TestSet = None,
) -> None:
    """Clip counts, raters per clip, label prevalence, multi-label counts and split sizes."""
    labels = corpora.load_labels(name, root, **_options(rating_modality=rating_modality, seed=seed,
                                                         balance=balance, fold=fold, test_set=test_set))
    render_summary(summarize(labels), terminal.console())


def extract(
    dataset: CorpusName = ...,
    root: Root = ...,
    out: Path = typer.Option(..., "--out", help="feature store directory to create"),
    modalities: str | None = typer.Option(None, "--modalities", help="comma list (default: the corpus's)"),
    audio_model: str | None = typer.Option(None, "--audio-model", help="hub id or local directory"),
    audio_layers: str | None = typer.Option(None, "--audio-layers", help="all | last hidden state(s)"),
    video_weights: Path | None = typer.Option(None, "--video-weights",
                                                 help="MobileNetV2 AffectNet checkpoint (safetensors/state dict)"),
    text_model: str | None = typer.Option(None, "--text-model", help="hub id or local directory"),
    fps: float = typer.Option(30.0, "--fps", help="video frames per second stored"),
    dtype: str = typer.Option("float16", "--dtype", help="float16 | float32 storage"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:n]"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="video frames per detector/encoder batch"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N clips (smoke runs)"),
    skip_failed: bool = typer.Option(False, "--skip-failed", help="write the store without clips that failed"),
    rating_modality: RatingModality = None, seed: Seed = None, balance: Balance = None, fold: Fold = None,
    test_set: TestSet = None,
) -> None:
    """Extract frozen-encoder features of a corpus into a feature store; an interrupted run resumes."""
    from avbench.corpora.extract import ExtractConfig, run_extraction

    corpus = corpora.get(dataset)
    config = ExtractConfig.for_corpus(
        corpus,
        tuple(m.strip() for m in modalities.split(",") if m.strip()) if modalities else None,
        audio_model=audio_model, audio_layers=audio_layers,
        video_weights=str(video_weights) if video_weights else None, text_model=text_model, fps=fps, dtype=dtype,
    )
    labels = corpora.load_labels(dataset, root, **_options(rating_modality=rating_modality, seed=seed,
                                                            balance=balance, fold=fold, test_set=test_set))
    if limit is not None:
        labels.clips = labels.clips.head(limit)
    console = terminal.console(stderr=True)
    with terminal.progress(console, f"extracting {dataset}", len(labels.clips)) as bar:
        report = run_extraction(labels, out, config, device=device, batch_size=batch_size, skip_failed=skip_failed,
                                on_progress=lambda done, total, clip: bar.update(completed=done, description=clip))
    console.print(f"{report.extracted} clip(s) extracted, {report.reused} reused from an earlier run")
    if report.failures:
        table = Table("clip", "error", title=f"{len(report.failures)} clip(s) failed")
        for clip, error in report.failures.items():
            table.add_row(clip, error)
        console.print(table)
    if report.store is None:
        console.print("store not written: fix the clips above and rerun (finished clips are kept), "
                      "or pass --skip-failed to write it without them", style="red")
        raise typer.Exit(1)
    console.print(f"feature store written to {report.store}")
