"""The table every corpus loader returns, and the vote arithmetic shared by all of them.

Labels are *distributional*: the share of raters who chose each emotion (Chou et al.; the RAVER setup). A clip
"has" an emotion when its share exceeds 1/C, so one clip can carry several emotions. Keeping the raw counts next
to the shares lets reports show how many raters stood behind every label.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger("avbench.corpora")

#: Columns every loader fills (extra, corpus-specific columns such as ``sex`` or ``session`` may follow).
CLIP_COLUMNS = (
    "clip_id",  # str, unique
    "speaker",  # str, the unit of speaker-independent splits
    "split",  # train | dev | test
    "duration",  # seconds, NaN when the loader cannot know it without decoding media
    "labels",  # np.ndarray (C,) float32 vote shares, summing to 1 (or all 0 when no categorical rating exists)
    "votes",  # np.ndarray (C,) int64 rater counts behind ``labels`` (all 0 when only a consensus is known)
    "n_raters",  # float, raters who rated the clip (NaN when unknown)
    "attributes",  # np.ndarray (3,) float32 arousal, valence, dominance on the corpus scale (NaN when absent)
    "text",  # str transcript ("" when unknown)
    "words",  # list[str] aligned words, or None
    "word_times",  # np.ndarray (W, 2) float32 start/end seconds, or None when there is no forced alignment
    "audio_path",  # str path of the clip's audio, or None when the checkout lacks it
    "video_path",  # str path of the clip's video, or None
)


@dataclass
class CorpusLabels:
    """One corpus as a clip table, ready for feature extraction or for reuse by other commands."""

    name: str
    emotions: list[str]
    clips: pd.DataFrame
    excluded: dict[str, str] = field(default_factory=dict)  # clip id -> why it is not in ``clips``
    attribution: str | None = None  # licence notice that must travel with anything derived
    options: dict[str, Any] = field(default_factory=dict)  # the loader options that produced this table
    media: dict[str, str] = field(default_factory=dict)  # modality -> where the loader looks for a clip's inputs

    def __len__(self) -> int:
        return len(self.clips)

    def label_matrix(self) -> np.ndarray:
        return _stack(self.clips["labels"], (len(self.emotions),), np.float32)

    def vote_matrix(self) -> np.ndarray:
        return _stack(self.clips["votes"], (len(self.emotions),), np.int64)

    def attribute_matrix(self) -> np.ndarray:
        return _stack(self.clips["attributes"], (3,), np.float32)

    def binary(self) -> np.ndarray:
        """Presence of each emotion: vote share strictly above 1/C."""
        return binarize(self.label_matrix())


def clip_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """DataFrame of clip rows whose optional columns keep ``None`` for "absent".

    pandas would otherwise turn a column of paths with gaps into strings with NaN, and NaN is truthy.
    """
    clips = pd.DataFrame(rows)
    for column in ("audio_path", "video_path", "words", "word_times"):
        if column in clips:
            values = clips[column].astype(object)
            clips[column] = values.where(values.map(lambda v: v is not None and not _is_nan(v)), None)
    return clips


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _stack(column: pd.Series, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if len(column) == 0:
        return np.zeros((0, *shape), dtype)
    return np.stack([np.asarray(v, dtype) for v in column])


def binarize(shares: np.ndarray) -> np.ndarray:
    """Multi-label targets from vote shares with the 1/C threshold of the papers."""
    shares = np.asarray(shares)
    return shares > 1.0 / shares.shape[-1]


def shares(votes: np.ndarray) -> np.ndarray:
    """Vote shares; a row without votes stays all-zero instead of dividing by zero."""
    votes = np.asarray(votes, np.float64)
    total = votes.sum(axis=-1, keepdims=True)
    return np.divide(votes, total, out=np.zeros_like(votes), where=total > 0).astype(np.float32)


def count_votes(choices: Iterable[str], emotions: Sequence[str]) -> np.ndarray:
    """Count how many of ``choices`` name each emotion (choices outside ``emotions`` are ignored)."""
    index = {e: i for i, e in enumerate(emotions)}
    votes = np.zeros(len(emotions), np.int64)
    for choice in choices:
        if choice in index:
            votes[index[choice]] += 1
    return votes


def exclude(excluded: dict[str, str], clip_ids: Iterable[str], reason: str) -> None:
    """Record why clips are left out and log it once per reason, so nothing disappears silently."""
    ids = sorted(set(clip_ids))
    if not ids:
        return
    for clip_id in ids:
        excluded[clip_id] = reason
    shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
    log.warning("excluded %d clip(s) (%s): %s", len(ids), reason, shown)


def empty_attributes() -> np.ndarray:
    return np.full(3, np.nan, np.float32)
