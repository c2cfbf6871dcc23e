"""Corpus → feature store, resumable clip by clip.

Each clip's features go to ``<out>.parts/<clip>.npz`` with an atomic write, so a run killed at any moment
resumes where it stopped and never reads half a file. ``config.json`` in that folder pins the extraction
settings by content — a sha256 of each encoder's weights and preprocessing, not the path they were given by — so
parts made with other weights or frame rates are never mixed in, while the same weights reached by another path
resume. Nothing is written before the encoders have loaded. When every clip is done the parts are streamed into a
:class:`~avbench.data.store.StoreWriter` one at a time (peak memory is one clip, whatever the corpus size), the
features are checked for degenerate frames on the way (:mod:`avbench.corpora.checks`) and the parts folder is
removed. A store already extracted with the same settings and clips is recognised and kept (``force`` redoes it).

Clips without the inputs a modality needs (a partial checkout) are known before any encoder runs: extraction
refuses them with counts and hints, or — with ``available`` — takes the clips that have them, re-dealing the
speaker split over the speakers present when the corpus's own split would leave a split empty. A clip that fails
(unreadable media, ...) does not stop the run. The failures are summarised by reason and listed in full in
``<out>.failed.csv``; the store is only assembled without those clips when the caller asks for it
(``skip_failed``).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.atomic import write_json, write_with
from avbench.corpora.checks import FrameCounts
from avbench.corpora.labels import CLIP_COLUMNS, CorpusLabels
from avbench.corpora.splits import speaker_splits
from avbench.errors import UserError
from avbench.data.store import FeatureStore, StoreWriter
from avbench.data.vocabulary import SPLITS
from avbench.rundir.provenance import package_versions
from avbench.corpora.clips import INPUT_NAMES, Encoders, ExtractConfig, has_inputs, part_name, resolve_device
from avbench.corpora.sharding import extract_parts, extract_sharded

MEDIA_FILE = re.compile(r"'?[^\s']*\.(?:wav|flv|mp4|avi|mp3|textgrid)'?:?\s*", re.IGNORECASE)  # in error text


@dataclass
class ExtractReport:
    store: Path | None
    extracted: int
    reused: int
    failures: dict[str, str] = field(default_factory=dict)  # clip id -> error (the full list is also on disk)
    up_to_date: bool = False  # the store already held these clips with these settings; nothing was redone
    failure_file: Path | None = None
    checks: dict[str, dict[str, int]] = field(default_factory=dict)  # modality -> degenerate frame counts

    def failure_reasons(self) -> dict[str, int]:
        """Failures counted by reason, most common first."""
        return dict(Counter(_reason(e) for e in self.failures.values()).most_common())


def _reason(error: str) -> str:
    """An error without the file it names, so failures group by cause."""
    reason = MEDIA_FILE.sub("", error)
    return re.sub(r":\s*\)", ")", reason).strip() or error


@dataclass
class Selection:
    """The clips an extraction takes, and what the user should know about the choice."""

    labels: CorpusLabels
    notes: list[str] = field(default_factory=list)  # said before extraction starts
    warnings: list[str] = field(default_factory=list)  # said loudly: the store differs from the corpus protocol
    split: str = "corpus"  # "corpus", or how the split was re-dealt


def select_clips(labels: CorpusLabels, config: ExtractConfig, available: bool = False,
                 limit: int | None = None) -> Selection:
    """The clips to extract; refuses, before any encoder loads, what would only fail clip by clip.

    Without ``available`` every clip must have its inputs; the error counts the missing ones per modality, says
    where the loader looked and hints at ``--available`` (or ``--modalities`` when a modality is absent
    altogether). ``limit`` keeps the first N clips after that. When a split ends up empty, the speakers that
    remain are dealt anew (same seed) and the store says so.
    """
    clips = labels.clips
    missing = {m: int((~has_inputs(clips, m)).sum()) for m in config.modalities}
    if not available and any(missing.values()):
        raise UserError(_missing_inputs_message(labels, config, missing))
    keep = np.ones(len(clips), bool)
    for modality in config.modalities:
        keep &= has_inputs(clips, modality).to_numpy()
    chosen = clips[keep]
    notes = []
    if available:
        notes.append(f"--available: {int(keep.sum())} of {len(clips)} clip(s) have what "
                     f"{' and '.join(config.modalities)} need")
    if limit is not None:
        chosen = chosen.head(limit)
    if chosen.empty:
        raise UserError(_missing_inputs_message(labels, config, missing, available))
    selected = CorpusLabels(**{**vars(labels), "clips": chosen.reset_index(drop=True)})
    selection = Selection(selected, notes)
    _ensure_splits(selection)
    counts = selection.labels.clips["split"].value_counts()
    selection.notes.append("clips per split: " + ", ".join(f"{s} {int(counts.get(s, 0))}" for s in SPLITS))
    return selection


def _missing_inputs_message(labels: CorpusLabels, config: ExtractConfig, missing: dict[str, int],
                            available: bool = False) -> str:
    total = len(labels.clips)
    parts = [f"{count} of {total} clip(s) have no {INPUT_NAMES[m]} (looked for {labels.media.get(m, 'its files')})"
             for m, count in missing.items() if count]
    absent = [m for m, count in missing.items() if count == total]
    present = [m for m in config.modalities if m not in absent]
    if absent and present:
        hint = (f"this checkout has no {' or '.join(absent)} at all: pass --modalities {','.join(present)} to "
                "extract only what it has")
    elif absent:
        hint = "check --root and the layout described in the README's Real corpora section"
    elif available:
        hint = f"no clip has the files of all of {', '.join(config.modalities)}: choose fewer with --modalities"
    else:
        hint = "pass --available to extract only the clips that have their files"
    return f"{labels.name}: " + "; ".join(parts) + f"; {hint}"


def _ensure_splits(selection: Selection) -> None:
    """Re-deal speakers over train/dev/test when the selected clips leave a split empty (a partial checkout)."""
    clips = selection.labels.clips
    empty = [s for s in SPLITS if not (clips["split"] == s).any()]
    if not empty:
        return
    speakers = sorted(clips["speaker"].unique())
    if len(speakers) < len(SPLITS):
        raise UserError(f"the {len(clips)} selected clip(s) leave split(s) {', '.join(empty)} empty and come from "
                        f"{len(speakers)} speaker(s); a speaker-independent train/dev/test split needs at least "
                        f"{len(SPLITS)} (bring media of more speakers)")
    seed = int(selection.labels.options.get("seed", 0))
    assignment = speaker_splits(speakers, seed=seed)
    clips = clips.assign(split=clips["speaker"].map(assignment))
    selection.labels = CorpusLabels(**{**vars(selection.labels), "clips": clips})
    selection.split = f"re-dealt over the {len(speakers)} speakers with media (seed {seed})"
    selection.warnings.append(
        f"the corpus split would leave {', '.join(empty)} empty for these clips, so the {len(speakers)} speakers "
        f"present were dealt anew over train/dev/test (seed {seed}): results on this store are not comparable "
        "with the corpus's own split")


def extraction_settings(config: ExtractConfig, digests: dict[str, str]) -> dict[str, Any]:
    """What the numbers in a part depend on: encoder contents, frame rate, storage type (never a path)."""
    return {"format": 2, "modalities": list(config.modalities), "encoders": digests,
            "fps": config.fps if "video" in config.modalities else None, "dtype": config.dtype}


def _differences(previous: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    changed = []
    for key in sorted(set(previous) | set(settings)):
        if key == "encoders":
            old, new = previous.get(key) or {}, settings[key]
            changed += [f"the {m} encoder's weights or preprocessing (sha256 {str(old.get(m))[:12]} before, "
                        f"{str(new.get(m))[:12]} now)" for m in sorted(set(old) | set(new)) if old.get(m) != new.get(m)]
        elif previous.get(key) != settings.get(key):
            changed.append(f"{key} ({previous.get(key)} before, {settings.get(key)} now)")
    return changed


def _parts_dir(out: Path, settings: dict[str, Any]) -> Path:
    parts = out.with_name(out.name + ".parts")
    config_file = parts / "config.json"
    if config_file.is_file():
        previous = json.loads(config_file.read_text())
        if previous != settings:
            raise UserError(f"{parts} holds parts extracted with other settings: {'; '.join(_differences(previous, settings))}; "
                            "rerun with the earlier settings to finish it, or choose another --out (deleting it "
                            "discards the finished clips)")
    else:
        write_json(config_file, settings)
    return parts


def _selection_digest(clip_ids: list[str]) -> str:
    return hashlib.sha256("\n".join(clip_ids).encode()).hexdigest()


def _finished(out: Path, settings: dict[str, Any], clip_ids: list[str], force: bool) -> bool:
    """True when ``out`` already holds an extraction of these clips with these settings (and not ``force``).

    The clips asked for are compared, not the clips stored: a store written with ``skip_failed`` lacks its failed
    clips and is still the finished result of the same command.
    """
    if force or not (out / "meta.json").is_file():
        return False
    store = FeatureStore(out)
    previous = store.meta.get("extraction", {}).get("settings")
    if previous == settings and store.meta["extraction"].get("selection") == _selection_digest(clip_ids):
        return True
    why = (f"other settings: {'; '.join(_differences(previous, settings))}" if previous and previous != settings
           else "other settings (made before they were recorded)" if previous != settings else "other clips")
    raise UserError(f"{out} already holds a feature store extracted with {why}; pass --force to replace it, or "
                    "choose another --out")


def _write_failures(path: Path, failures: dict[str, str]) -> Path | None:
    """The full list of failed clips next to the store (meta.json keeps only counts); stale lists are removed."""
    if not failures:
        path.unlink(missing_ok=True)
        return None
    table = pd.DataFrame({"clip_id": list(failures), "error": list(failures.values())})
    write_with(path, lambda tmp: table.to_csv(tmp, index=False))
    return path


def _extra_columns(labels: CorpusLabels) -> list[str]:
    """Scalar per-clip facts worth keeping in the store's clips.csv (rater counts, sex, session, ...)."""
    skip = set(CLIP_COLUMNS) - {"n_raters"}
    return [c for c in labels.clips.columns if c not in skip]


def assemble(labels: CorpusLabels, parts: Path, out: Path, specs: dict[str, dict[str, Any]],
             extra_meta: dict[str, Any]) -> FeatureStore:
    """Stream the part files into a new store at ``out`` in clip-table order."""
    writer = StoreWriter(out, name=labels.name, emotions=labels.emotions, modalities=specs, extra_meta=extra_meta)
    extra_columns = _extra_columns(labels)
    checks = {m: FrameCounts() for m in specs}
    try:
        for _, row in labels.clips.iterrows():
            part = parts / part_name(row["clip_id"])
            if not part.is_file():
                continue
            with np.load(part) as data:
                arrays = {k: data[k] for k in data.files}
            words = list(row["words"]) if "text" in specs else None
            writer.add(
                clip_id=row["clip_id"], speaker=str(row["speaker"]), split=row["split"],
                duration=float(arrays["duration"]), frames={m: arrays[m] for m in specs},
                labels=row["labels"], votes=row["votes"], attributes=row["attributes"],
                word_times=arrays.get("word_times"), words=words,
                present={"video": arrays["video_present"]} if "video_present" in arrays else None,
                extra={c: row[c] for c in extra_columns},
            )
            for m, tally in checks.items():
                tally.add(arrays[m], arrays.get(f"{m}_present"))
                tally.fp16_underflow += int(arrays.get(f"underflow_{m}", 0))
    except BaseException:
        writer.abort()
        raise
    writer.extra_meta["feature_checks"] = {m: asdict(tally) for m, tally in checks.items()}
    return writer.close()


def _versions() -> dict[str, str]:
    return package_versions(("torch", "transformers", "torchvision", "facenet-pytorch", "av"))


def run_extraction(
    labels: CorpusLabels,
    out: str | Path,
    config: ExtractConfig,
    device: str = "auto",
    batch_size: int = 32,
    skip_failed: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
    encoders: Encoders | None = None,
    available: bool = False,
    limit: int | None = None,
    force: bool = False,
    on_start: Callable[[Selection, int, int], None] | None = None,
    executor: str = "local",
    workers: int = 1,
    clips_per_call: int = 8,
) -> ExtractReport:
    """Extract the clips of ``labels`` (see :func:`select_clips`), resuming from earlier parts, and when complete
    write the store.

    ``on_start(selection, to_extract, reused)`` is called once the encoders have loaded, ``on_progress(done,
    to_extract, clip_id)`` after each clip extracted now (reused clips take no time and are not counted).
    ``encoders`` may be passed to reuse already-loaded models; they are built from ``config`` otherwise.
    Audio and text go through the encoders ``clips_per_call`` clips at a time; with several ``workers`` (or a Ray
    or Slurm ``executor``) the clips are sharded across them (:mod:`avbench.corpora.sharding`).
    """

    out = Path(out)
    config.validate()
    selection = select_clips(labels, config, available, limit)
    labels = selection.labels
    encoders = encoders or Encoders.build(config, resolve_device(device), batch_size)
    settings = extraction_settings(config, encoders.digests(config))
    clip_ids = labels.clips["clip_id"].tolist()
    if _finished(out, settings, clip_ids, force):
        return ExtractReport(store=out, extracted=0, reused=len(clip_ids), up_to_date=True,
                             checks=FeatureStore(out).meta.get("feature_checks", {}))
    parts = _parts_dir(out, settings)
    reused = sum((parts / part_name(c)).is_file() for c in clip_ids)
    if on_start is not None:
        on_start(selection, len(clip_ids) - reused, reused)
    if workers > 1 or executor != "local":
        extracted, _, failures, _ = extract_sharded(labels, parts, config, device, batch_size, executor, workers,
                                                    clips_per_call, on_progress)
    else:
        extracted, _, failures = extract_parts(labels, parts, config, encoders, clips_per_call, on_progress)
    failure_file = _write_failures(out.with_name(out.name + ".failed.csv"), failures)
    if failures and not skip_failed:
        return ExtractReport(store=None, extracted=extracted, reused=reused, failures=failures,
                             failure_file=failure_file)
    report = ExtractReport(store=out, extracted=extracted, reused=reused, failures=failures, failure_file=failure_file)
    meta = {
        "corpus": labels.name,
        "corpus_options": labels.options,
        "excluded_clips": dict(sorted(Counter(labels.excluded.values()).items())),  # reason -> clips
        "failed_clips": {"count": len(failures), "by_reason": report.failure_reasons(),
                         "list": failure_file.name if failure_file else None},
        "split": selection.split,
        "extraction": {**asdict(config), "modalities": list(config.modalities), "settings": settings,
                       "selection": _selection_digest(clip_ids), "versions": _versions()},
    }
    if labels.attribution:
        meta["attribution"] = labels.attribution
    # a store there already (--force) is replaced only once the new one is complete
    report.checks = assemble(labels, parts, out, encoders.specs(config), meta).meta["feature_checks"]
    shutil.rmtree(parts)
    return report
