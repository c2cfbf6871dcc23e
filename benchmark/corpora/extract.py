"""Corpus → feature store, resumable clip by clip.

Each clip's features go to ``<out>.parts/<clip>.npz`` with an atomic write, so a run killed at any moment
resumes where it stopped and never reads half a file. ``config.json`` in that folder pins the extraction
settings: parts made with other models or frame rates are never mixed in. When every clip is done the parts are
streamed into a :class:`~avbench.store.StoreWriter` one at a time (peak memory is one clip, whatever the corpus
size) and the parts folder is removed.

A clip that fails (unreadable media, missing alignment, ...) does not stop the run. The failures are listed at
the end, and the store is only assembled without those clips when the caller asks for it (``skip_failed``), in
which case ``meta.json`` names them.
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
import torch

from avbench.atomic import write_json, write_with
from avbench.corpora.corpus import Corpus
from avbench.corpora.labels import CLIP_COLUMNS, CorpusLabels
from avbench.corpora.media import SAMPLE_RATE, ClipError, load_audio, video_frames
from avbench.errors import UserError
from avbench.store import MODALITIES, FeatureStore, StoreWriter

DTYPES = ("float16", "float32")
TEXT_RATE = 0.0  # words have no clock; their times live in word_times


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that changes the numbers in a part file (and nothing else)."""

    modalities: tuple[str, ...]
    audio_model: str | None = None
    audio_layers: str = "all"
    video_weights: str | None = None
    text_model: str | None = None
    fps: float = 30.0
    dtype: str = "float16"

    @classmethod
    def for_corpus(cls, corpus: Corpus, modalities: tuple[str, ...] | None = None, **overrides: Any) -> ExtractConfig:
        """The corpus's paper defaults (encoders, layers, modalities), with explicit choices taking precedence."""
        chosen = tuple(modalities or corpus.modalities)
        unknown = [m for m in chosen if m not in MODALITIES]
        if unknown or not chosen:
            raise UserError(f"--modalities must be a comma list of {', '.join(MODALITIES)}, got {','.join(chosen)}")
        settings = {
            "audio_model": corpus.audio_model if "audio" in chosen else None,
            "audio_layers": corpus.audio_layers,
            "text_model": corpus.text_model if "text" in chosen else None,
        }
        settings.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(modalities=chosen, **settings)
        config.validate()
        return config

    def validate(self) -> None:
        if self.dtype not in DTYPES:
            raise UserError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.fps <= 0:
            raise UserError(f"--fps must be positive, got {self.fps}")
        if "video" in self.modalities and not self.video_weights:
            raise UserError("video features need --video-weights PATH: the MobileNetV2 checkpoint fine-tuned on "
                            "AffectNet (safetensors or a torch state dict)")
        if "text" in self.modalities and not self.text_model:
            raise UserError("text features need --text-model (a hub id such as FacebookAI/roberta-base, or a "
                            "local directory)")


@dataclass
class Encoders:
    audio: Any = None
    video: Any = None
    text: Any = None

    @classmethod
    def build(cls, config: ExtractConfig, device: torch.device, batch_size: int) -> Encoders:
        from avbench.corpora.encoders import AudioEncoder, TextEncoder
        from avbench.corpora.faces import FaceEncoder

        return cls(
            audio=AudioEncoder(config.audio_model, config.audio_layers, device) if "audio" in config.modalities
            else None,
            video=FaceEncoder(Path(config.video_weights), device, batch_size) if "video" in config.modalities
            else None,
            text=TextEncoder(config.text_model, device) if "text" in config.modalities else None,
        )

    def specs(self, config: ExtractConfig) -> dict[str, dict[str, Any]]:
        from avbench.corpora.encoders import AUDIO_RATE

        rates = {"audio": AUDIO_RATE, "video": config.fps, "text": TEXT_RATE}
        return {m: {"rate": rates[m], "shape": list(getattr(self, m).shape), "dtype": config.dtype}
                for m in config.modalities}


@dataclass
class ExtractReport:
    store: Path | None
    extracted: int
    reused: int
    failures: dict[str, str] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a torch device (auto, cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda requested but no CUDA device is available")
    return device


def _check_inputs(row: pd.Series, config: ExtractConfig) -> None:
    """Fail fast, before any encoder runs, when a clip lacks what a requested modality needs."""
    if "audio" in config.modalities and not (row["audio_path"] or row["video_path"]):
        raise ClipError("no audio or video file for this clip in the checkout")
    if "video" in config.modalities and not row["video_path"]:
        raise ClipError("no video file for this clip in the checkout")
    if "text" in config.modalities and (row["word_times"] is None or row["words"] is None):
        raise ClipError("no forced alignment (word times) for this clip")


def extract_clip(row: pd.Series, encoders: Encoders, config: ExtractConfig,
                 encoded: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """All requested features of one clip, plus its duration (seconds) and the video ``present`` mask.

    The duration comes from the decoded audio, else the sampled video, else the last aligned word. ``encoded``
    holds what a batched call already computed for this clip (``wav``, ``audio``, ``text``).
    """
    encoded = encoded or {}
    _check_inputs(row, config)
    out: dict[str, np.ndarray] = {}
    duration = None
    if "audio" in config.modalities:
        wav = encoded["wav"] if "wav" in encoded else load_audio(Path(row["audio_path"] or row["video_path"]))
        duration = wav.shape[0] / SAMPLE_RATE
        out["audio"] = encoded["audio"] if "audio" in encoded else encoders.audio(wav)
    if "video" in config.modalities:
        out["video"], out["video_present"] = encoders.video(video_frames(Path(row["video_path"]), config.fps))
        duration = duration if duration is not None else out["video"].shape[0] / config.fps
    if "text" in config.modalities:
        out["text"] = encoded["text"] if "text" in encoded else encoders.text(list(row["words"]))
        out["word_times"] = np.asarray(row["word_times"], np.float32).reshape(-1, 2)
        if duration is None:
            duration = float(out["word_times"][:, 1].max(initial=0.0))
    for m in config.modalities:
        out[m] = out[m].astype(config.dtype)
    out["duration"] = np.array(duration, np.float64)
    return out


def _part_name(clip_id: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", clip_id):
        return f"{clip_id}.npz"
    return f"clip-{hashlib.sha1(clip_id.encode()).hexdigest()[:16]}.npz"


def _save_part(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    write_with(path, write)


def _parts_dir(out: Path, config: ExtractConfig) -> Path:
    parts = out.with_name(out.name + ".parts")
    settings = {"format": 1, **asdict(config), "modalities": list(config.modalities)}
    config_file = parts / "config.json"
    if config_file.is_file():
        previous = json.loads(config_file.read_text())
        if previous != settings:
            changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
            raise UserError(f"{parts} holds parts extracted with other settings ({', '.join(changed)}); "
                            "delete it or choose another --out")
    else:
        write_json(config_file, settings)
    return parts


def _extra_columns(labels: CorpusLabels) -> list[str]:
    """Scalar per-clip facts worth keeping in the store's clips.csv (rater counts, sex, session, ...)."""
    skip = set(CLIP_COLUMNS) - {"n_raters"}
    return [c for c in labels.clips.columns if c not in skip]


def assemble(labels: CorpusLabels, parts: Path, out: Path, specs: dict[str, dict[str, Any]],
             extra_meta: dict[str, Any]) -> FeatureStore:
    """Stream the part files into a new store at ``out`` in clip-table order."""
    writer = StoreWriter(out, name=labels.name, emotions=labels.emotions, modalities=specs, extra_meta=extra_meta)
    extra_columns = _extra_columns(labels)
    try:
        for _, row in labels.clips.iterrows():
            part = parts / _part_name(row["clip_id"])
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
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {}
    for package in ("torch", "transformers", "torchvision", "facenet-pytorch", "av"):
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            continue
    return found


def run_extraction(
    labels: CorpusLabels,
    out: str | Path,
    config: ExtractConfig,
    device: str = "auto",
    batch_size: int = 32,
    skip_failed: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
    encoders: Encoders | None = None,
    executor: str = "local",
    workers: int = 1,
    clips_per_call: int = 8,
) -> ExtractReport:
    """Extract every clip of ``labels`` (resuming from earlier parts) and, when complete, write the store.

    ``on_progress(done, total, clip_id)`` is called after each clip. ``encoders`` may be passed to reuse
    already-loaded models; they are built from ``config`` otherwise. Audio and text go through the encoders
    ``clips_per_call`` clips at a time; with several ``workers`` (or a Ray or Slurm ``executor``) the clips are
    sharded across them (:mod:`avbench.corpora.sharding`).
    """
    from avbench.corpora.sharding import extract_parts, extract_sharded

    out = Path(out)
    config.validate()
    parts = _parts_dir(out, config)
    if workers > 1 or executor != "local":
        extracted, reused, failures, specs = extract_sharded(labels, parts, config, device, batch_size, executor,
                                                              workers, clips_per_call, on_progress)
    else:
        encoders = encoders or Encoders.build(config, resolve_device(device), batch_size)
        extracted, reused, failures = extract_parts(labels, parts, config, encoders, clips_per_call, on_progress)
        specs = encoders.specs(config)
    if failures and not skip_failed:
        return ExtractReport(store=None, extracted=extracted, reused=reused, failures=failures)
    meta = {
        "corpus": labels.name,
        "corpus_options": labels.options,
        "excluded_clips": dict(sorted(Counter(labels.excluded.values()).items())),  # reason -> clips
        "failed_clips": failures,
        "extraction": {**asdict(config), "modalities": list(config.modalities), "versions": _versions()},
    }
    if labels.attribution:
        meta["attribution"] = labels.attribution
    assemble(labels, parts, out, specs, meta)
    shutil.rmtree(parts)
    return ExtractReport(store=out, extracted=extracted, reused=reused, failures=failures)
