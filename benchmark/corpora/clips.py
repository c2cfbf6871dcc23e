"""One clip's features: the extraction settings, the encoders, the arrays of a clip and its part file.

:mod:`avbench.corpora.extract` decides which clips to extract and assembles the store; :mod:`avbench.corpora.sharding`
spreads clips over workers; both extract each clip through this module, so a clip's numbers do not depend on how
many workers made them.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from avbench.atomic import write_npz
from avbench.corpora.checks import underflowing_frames
from avbench.corpora.corpus import Corpus
from avbench.corpora.encoders import AUDIO_RATE, AudioEncoder, TextEncoder
from avbench.corpora.media import SAMPLE_RATE, ClipError, load_audio, video_frames
from avbench.data.store import MODALITIES
from avbench.errors import UserError


DTYPES = ("float16", "float32")


TEXT_RATE = 0.0  # words have no clock; their times live in word_times


INPUT_NAMES = {"audio": "audio or video file", "video": "video file", "text": "forced alignment (word times)"}


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
        from avbench.corpora.faces import FaceEncoder  # deferred: PIL

        return cls(
            audio=AudioEncoder(config.audio_model, config.audio_layers, device) if "audio" in config.modalities
            else None,
            video=FaceEncoder(Path(config.video_weights), device, batch_size) if "video" in config.modalities
            else None,
            text=TextEncoder(config.text_model, device) if "text" in config.modalities else None,
        )

    def digests(self, config: ExtractConfig) -> dict[str, str]:
        """sha256 of each encoder's weights and preprocessing: what the numbers depend on, not where they came from."""
        return {m: getattr(self, m).digest for m in config.modalities}

    def specs(self, config: ExtractConfig) -> dict[str, dict[str, Any]]:

        rates = {"audio": AUDIO_RATE, "video": config.fps, "text": TEXT_RATE}
        return {m: {"rate": rates[m], "shape": list(getattr(self, m).shape), "dtype": config.dtype}
                for m in config.modalities}


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


def has_inputs(clips: pd.DataFrame, modality: str) -> pd.Series:
    """Which clips have what ``modality`` needs in the checkout (audio is also decoded from a clip's video)."""
    if modality == "audio":
        return clips["audio_path"].notna() | clips["video_path"].notna()
    if modality == "video":
        return clips["video_path"].notna()
    return clips["word_times"].notna() & clips["words"].notna()


def check_inputs(row: pd.Series, config: ExtractConfig) -> None:
    """Fail fast, before any encoder runs, when a clip lacks what a requested modality needs."""
    frame = row.to_frame().T
    for modality in config.modalities:
        if not bool(has_inputs(frame, modality).iloc[0]):
            raise ClipError(f"no {INPUT_NAMES[modality]} for this clip in the checkout")


def extract_clip(row: pd.Series, encoders: Encoders, config: ExtractConfig,
                 encoded: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """All requested features of one clip, plus its duration (seconds) and the video ``present`` mask.

    The duration comes from the decoded audio, else the sampled video, else the last aligned word. ``encoded``
    holds what a batched call already computed for this clip (``wav``, ``audio``, ``text``).
    """
    encoded = encoded or {}
    check_inputs(row, config)
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
        if config.dtype == "float16":
            out[f"underflow_{m}"] = np.array(underflowing_frames(out[m]), np.int64)
        out[m] = out[m].astype(config.dtype)
    out["duration"] = np.array(duration, np.float64)
    return out


def part_name(clip_id: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", clip_id):
        return f"{clip_id}.npz"
    return f"clip-{hashlib.sha1(clip_id.encode()).hexdigest()[:16]}.npz"


def save_part(path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_npz(path, arrays)
