"""Where each modality's frames sit in time, so corruptions that act on time (bursts, dropped words) hit every
modality at the same moments.

Audio frame i sits at i / rate (the authors' ``0.02 * i`` at 50 Hz), video frame k at k / fps, and a word at the
centre of its aligned span. Every time-to-frame lookup uses "nearest frame, earlier one on a tie", the rule of
the authors' word-drop code.
"""
from __future__ import annotations

import functools

import numpy as np

from avbench.data.store import MODALITIES, ClipTiming

DEFAULT_GRID_RATE = 50.0  # Hz: the wav2vec2/WavLM frame clock, used as the loss grid when a clip has no audio


def frame_count(timing: ClipTiming, modality: str) -> int:
    """Length of the modality's keep-mask: frames for audio/video, words for text."""
    return timing.n_words if modality == "text" else int(timing.n_frames.get(modality, 0))


def frame_times(timing: ClipTiming, modality: str) -> np.ndarray:
    """Time stamp (seconds) of every element of the modality's keep-mask.

    Words sit at their centres. A frame modality without a declared rate is spread evenly over the clip, the
    only reading of its frames' timing that the store allows.
    """
    if modality == "text":
        return np.asarray(timing.word_times, dtype=np.float64).reshape(-1, 2).mean(axis=1)
    n = frame_count(timing, modality)
    rate = float(timing.rates.get(modality, 0.0))
    step = 1.0 / rate if rate > 0 else timing.duration / max(n, 1)
    return np.arange(n, dtype=np.float64) * step


def nearest_frame(times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the frame in sorted ``times`` nearest to each time in ``at`` (earlier frame on a tie)."""
    at = np.asarray(at, dtype=np.float64)
    if times.size == 1:
        return np.zeros(at.shape, dtype=np.intp)
    right = np.clip(np.searchsorted(times, at, side="left"), 1, times.size - 1)
    left = right - 1
    return np.where(at - times[left] <= times[right] - at, left, right)


def span_mask(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for frames in [nearest(start), nearest(end)] of any span, inclusive (the authors' word-drop rule)."""
    covered = np.zeros(times.size + 1, dtype=np.int64)
    if times.size and len(starts):
        first = nearest_frame(times, starts)
        last = nearest_frame(times, ends)
        np.add.at(covered, first, 1)
        np.add.at(covered, last + 1, -1)
    return np.cumsum(covered[:-1]) > 0


def loss_grid(timing: ClipTiming) -> tuple[int, dict[str, np.ndarray]]:
    """The common clock for packet loss: its length and, per modality, the grid step of each mask element.

    The grid ticks at the audio rate (50 Hz) from 0 and is long enough for every audio frame, video frame and
    word centre of the clip; audio frames map one-to-one. It depends on the whole clip, never on which
    modalities a model asks for, so a modality's mask is the same whichever others are requested.

    It is a pure function of the clip's clocks, remembered per process (read-only arrays): a sweep asks for the
    same clip's grid at every level, and building it was most of the cost of a Markov sweep's masks.
    """
    return _grid_of_clocks(timing.duration, tuple(sorted(timing.n_frames.items())),
                           tuple(sorted(timing.rates.items())),
                           np.asarray(timing.word_times, dtype=np.float64).tobytes())


@functools.lru_cache(maxsize=20_000)  # clips' grids a process keeps (a few kB each)
def _grid_of_clocks(duration: float, n_frames: tuple[tuple[str, int], ...], rates: tuple[tuple[str, float], ...],
                    word_times: bytes) -> tuple[int, dict[str, np.ndarray]]:
    """:func:`loss_grid` of a clip given by its clocks alone, so that nothing else (its id) can reach the grid."""
    words = np.frombuffer(word_times, dtype=np.float64).reshape(-1, 2)
    return _build_loss_grid(ClipTiming("", duration, dict(n_frames), dict(rates), words))


def _build_loss_grid(timing: ClipTiming) -> tuple[int, dict[str, np.ndarray]]:
    rate = float(timing.rates.get("audio", 0.0)) or DEFAULT_GRID_RATE
    times = {m: frame_times(timing, m) for m in MODALITIES}
    latest = max((float(t.max()) for t in times.values() if t.size), default=None)
    length = frame_count(timing, "audio")
    if latest is not None:
        length = max(length, int(np.ceil(max(latest, 0.0) * rate)) + 1)
    grid = np.arange(length, dtype=np.float64) / rate
    index = {m: nearest_frame(grid, t) if t.size else np.zeros(0, np.intp) for m, t in times.items()}
    for steps in index.values():
        steps.flags.writeable = False
    return length, index
