"""Packet-loss concealment of a waveform, and frame loss of a video: what a receiver does before any encoder runs.

The waveform is cut into packets of ``packet`` samples (20 ms: one speech-encoder frame). A concealment fills the
lost packets; this module then cross-fades it with what was received over ``crossfade`` samples on the received
side of every edge of a lost run: a linear ramp from the received signal into the concealment before a loss and
back after it. Samples farther than ``crossfade`` from every lost sample are returned unchanged, bit for bit, and
no concealment ever sees a lost sample: it is handed the signal with lost samples set to zero.

Concealments form a registry open to plugins (entry-point group ``avbench.concealments``, value
``"package.module:CONCEALMENT"``, a :class:`Concealment`; or ``--concealment package.module:NAME`` directly), so a
learned concealment model plugs in with the same call. Built in:

* ``zero`` — silence (the signal-domain counterpart of the papers' zeroed feature frames; the ConcealNet baseline);
* ``repeat`` — the last received packet repeated through the gap (last-packet repetition of the PLC testbenches),
  phase-continuous with the received signal before it;
* ``interpolate`` — a linear cross-fade, across the gap, from the repeated last packet before it to the repeated
  first packet after it (one packet of look-ahead, which a jitter buffer holds).

Video frames that are lost are replaced by the last frame shown (``freeze``), or by a black frame (``black``);
a video that starts with lost frames shows black until its first received frame.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from avbench.errors import UserError
from avbench.registry import Registry

VIDEO_LOSS = ("freeze", "black")


@dataclass(frozen=True)
class Gaps:
    """Where the losses of one waveform are, for a concealment to fill them.

    ``signal`` is the waveform with every lost sample set to zero; ``lost`` is True per lost sample; ``starts``
    and ``ends`` delimit the runs of lost samples ([start, end)); ``nearest`` gives, per sample, the run it belongs
    to or lies within ``margin`` samples of (-1 elsewhere). A concealment returns a signal that is used on the lost
    samples and, cross-faded, within ``margin`` samples of them.
    """

    signal: np.ndarray
    lost: np.ndarray
    packet: int
    margin: int
    starts: np.ndarray
    ends: np.ndarray
    nearest: np.ndarray


@dataclass(frozen=True)
class Concealment:
    """A named way to fill lost packets: ``fill(gaps) -> replacement signal`` (float32, the waveform's length)."""

    name: str
    description: str
    fill: Callable[[Gaps], np.ndarray]


def _zero(gaps: Gaps) -> np.ndarray:
    return np.zeros_like(gaps.signal)


def _periodic(gaps: Gaps, before: bool) -> np.ndarray:
    """The packet before each gap repeated forward (``before``), or the packet after it repeated backward, with
    period one packet and continuous with the received samples it comes from."""
    n = gaps.signal.size
    index = np.arange(n)
    run = np.maximum(gaps.nearest, 0)
    if before:
        start = gaps.starts[run] if gaps.starts.size else np.zeros(n, np.int64)
        shift = np.maximum(1, -(-(index - start + 1) // gaps.packet))  # ceil, at least one period back
        source = index - shift * gaps.packet
    else:
        end = gaps.ends[run] if gaps.ends.size else np.zeros(n, np.int64)
        shift = np.maximum(1, -(-(end - index) // gaps.packet))
        source = index + shift * gaps.packet
    inside = (gaps.nearest >= 0) & (source >= 0) & (source < n)
    out = np.zeros_like(gaps.signal)
    out[inside] = gaps.signal[source[inside]]
    return out


def _repeat(gaps: Gaps) -> np.ndarray:
    return _periodic(gaps, before=True)


def _interpolate(gaps: Gaps) -> np.ndarray:
    n = gaps.signal.size
    if not gaps.starts.size:
        return np.zeros_like(gaps.signal)
    run = np.maximum(gaps.nearest, 0)
    start, end = gaps.starts[run] - gaps.margin, gaps.ends[run] + gaps.margin
    share = np.clip((np.arange(n) - start + 0.5) / np.maximum(end - start, 1), 0.0, 1.0).astype(np.float32)
    previous, following = _periodic(gaps, before=True), _periodic(gaps, before=False)
    # nothing before the gap (it opens the clip) or after it (it ends the clip): the other side alone
    has_before = gaps.starts[run] > 0
    has_after = gaps.ends[run] < n
    share = np.where(~has_before, 1.0, np.where(~has_after, 0.0, share)).astype(np.float32)
    return (1 - share) * previous + share * following


ZERO = Concealment("zero", "silence in lost packets (the signal-domain counterpart of zeroed feature frames)", _zero)
REPEAT = Concealment("repeat", "the last received packet repeated through the gap, phase-continuous", _repeat)
INTERPOLATE = Concealment("interpolate", "linear cross-fade across the gap from the repeated packet before it to "
                          "the repeated packet after it (one packet of look-ahead)", _interpolate)

REGISTRY: Registry[Concealment] = Registry(
    "concealment", entry_point_group="avbench.concealments",
    entries={"zero": "avbench.corpora.concealment:ZERO", "repeat": "avbench.corpora.concealment:REPEAT",
             "interpolate": "avbench.corpora.concealment:INTERPOLATE"},
    base=Concealment, references=True,
)
names = REGISTRY.names
get = REGISTRY.get


def lost_samples(keep_packets: np.ndarray, n_samples: int, packet: int) -> np.ndarray:
    """Per sample, True where its packet was lost; packets past the end of ``keep_packets`` take its last state."""
    keep = np.asarray(keep_packets, dtype=bool)
    n_packets = -(-n_samples // packet)
    if not keep.size:
        return np.zeros(n_samples, dtype=bool)
    states = keep[np.minimum(np.arange(n_packets), keep.size - 1)]
    return np.repeat(~states, packet)[:n_samples]


def find_gaps(wav: np.ndarray, lost: np.ndarray, packet: int, margin: int) -> Gaps:
    """The runs of lost samples and, per sample, the run it is in or within ``margin`` of (nearer one wins)."""
    n = wav.size
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    index = np.arange(n)
    nearest = np.full(n, -1, dtype=np.int64)
    if starts.size:
        before = np.searchsorted(starts, index, side="right") - 1  # the last run starting at or before the sample
        after = np.minimum(before + 1, starts.size - 1)
        past = np.where(before >= 0, index - ends[np.maximum(before, 0)] + 1, np.iinfo(np.int64).max)
        ahead = np.where(after > before, starts[after] - index, np.iinfo(np.int64).max)
        inside = (before >= 0) & (index < ends[np.maximum(before, 0)])
        choose = np.where(inside | (past <= ahead), before, after)
        distance = np.where(inside, 0, np.minimum(past, ahead))
        nearest = np.where(distance <= margin, choose, -1)
    signal = np.where(lost, 0.0, wav).astype(np.float32)
    return Gaps(signal, lost, packet, margin, starts, ends, nearest)


def conceal(wav: np.ndarray, keep_packets: np.ndarray, concealment: Concealment, packet: int,
            crossfade: int) -> np.ndarray:
    """``wav`` as a receiver plays it after losing the packets where ``keep_packets`` is False."""
    wav = np.asarray(wav, dtype=np.float32)
    lost = lost_samples(keep_packets, wav.size, packet)
    if not lost.any():
        return wav.copy()
    gaps = find_gaps(wav, lost, packet, crossfade)
    filled = np.asarray(concealment.fill(gaps), dtype=np.float32)
    if filled.shape != wav.shape or not np.all(np.isfinite(filled[gaps.nearest >= 0])):
        raise UserError(f"concealment {concealment.name!r} returned {filled.shape} samples (or non-finite ones) for "
                        f"a waveform of {wav.size}")
    # received weight: 0 on lost samples, rising linearly over the `crossfade` received samples next to a loss
    index = np.arange(wav.size)
    last_lost = np.maximum.accumulate(np.where(lost, index, -wav.size - crossfade - 1))
    next_lost = np.minimum.accumulate(np.where(lost, index, 2 * wav.size + crossfade + 1)[::-1])[::-1]
    distance = np.minimum(index - last_lost, next_lost - index)
    weight = np.clip(distance / (crossfade + 1.0), 0.0, 1.0).astype(np.float32)
    return np.where(weight >= 1.0, wav, weight * gaps.signal + (1 - weight) * filled).astype(np.float32)


def lossy_frames(frames: Iterable[np.ndarray], keep: np.ndarray, mode: str) -> Iterator[np.ndarray]:
    """Video frames with the lost ones (``keep`` False) frozen on the last frame shown, or black."""
    if mode not in VIDEO_LOSS:
        raise UserError(f"--video-loss must be one of {', '.join(VIDEO_LOSS)}, got {mode!r}")
    keep = np.asarray(keep, dtype=bool)
    shown: np.ndarray | None = None  # the last received frame
    for k, frame in enumerate(frames):
        if k >= keep.size or keep[k]:
            shown = frame
        elif mode == "freeze" and shown is not None:
            frame = shown
        else:
            frame = np.zeros_like(frame)
        yield frame
