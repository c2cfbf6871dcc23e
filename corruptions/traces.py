"""``trace``: replay recorded packet-loss traces, as a real call lost its packets.

A trace folder holds text files (``*.txt``, searched recursively) with one flag per packet, ``0`` or ``1``, one per
line (or separated by spaces or commas): the format of the INTERSPEECH 2022 Audio Deep Packet Loss Concealment
Challenge, where **1 = lost**. Packets are ``packet_ms`` long (20 ms by default, the challenge's).

Replay. Each clip at a level gets one trace of that level's group and a start offset, both drawn from the clip's
stable generator (:func:`~avbench.corruptions.base.stable_rng` of seed, ``trace``, level, clip id), so every model
sees the same masks, whatever the order, process or machine. Packet j of the clip is packet (offset + j) of the
trace, wrapping round at its end. Every modality reads the same packets on its own clock
(:func:`~avbench.corruptions.clocks.frame_times`): a frame (or a word's centre) at time t is lost when the packet
that carries t, ⌊t / packet⌋, is lost; with 20 ms packets audio frame i is packet i.

Levels are groups of traces by loss rate (bins at 0, 1, 2, 5, 10, 20, 30, 50 and 100 %; empty bins are left
out), labelled ``loss<lo>-<hi>pct``, with x the group's pooled loss in percent, after a ``clean`` level that loses
nothing. A folder is identified by its content: traces are ordered by the digest of their flags (so renaming or
touching a file changes nothing), and the folder's digest covers every trace's flags.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks, Level
from avbench.corruptions.clocks import frame_times
from avbench.corruptions.trace_demo import DEMO_DIR
from avbench.errors import UserError
from avbench.data.store import ClipTiming

PACKET_MS = 20.0  # the PLC Challenge's packet length
LOST_FLAG = "1"  # the PLC Challenge writes 1 for a lost packet
BIN_EDGES = (0, 1, 2, 5, 10, 20, 30, 50, 100)  # loss-rate groups, percent
SOURCE = ("recorded traces as in the INTERSPEECH 2022 Audio Deep Packet Loss Concealment Challenge (Diener et al., "
          "2022): one 0/1 flag per 20 ms packet, 1 = lost")
_TIME_SLACK = 1e-6  # frame times are multiples of 1/rate: i * 0.02 / 0.02 may fall a hair below i


@dataclass(frozen=True)
class Trace:
    """One trace: where it came from and its flags (True = lost)."""

    name: str  # path inside the folder, without .txt
    lost: np.ndarray
    digest: str  # sha256 of the flags alone

    @property
    def loss_rate(self) -> float:
        return float(self.lost.mean()) if self.lost.size else 0.0


@dataclass(frozen=True)
class TraceGroup:
    """Traces whose loss rate lies in [low, high) percent (the last bin includes 100)."""

    label: str
    low: float
    high: float
    traces: tuple[Trace, ...]

    @property
    def pooled_loss(self) -> float:
        return float(sum(int(t.lost.sum()) for t in self.traces) / sum(t.lost.size for t in self.traces))


@dataclass(frozen=True)
class TraceSet:
    """A validated trace folder: its traces in content order, its packet length and its content digest."""

    folder: Path
    packet_ms: float
    traces: tuple[Trace, ...]
    digest: str

    def groups(self) -> list[TraceGroup]:
        """Non-empty loss-rate groups, lowest first."""
        return list(self._groups)

    @functools.cached_property  # a TraceSet never changes: its groups are sorted out once
    def _groups(self) -> tuple[TraceGroup, ...]:
        edges = np.asarray(BIN_EDGES, dtype=np.float64)
        found: dict[int, list[Trace]] = {}
        for trace in self.traces:
            at = min(int(np.searchsorted(edges, 100.0 * trace.loss_rate, side="right")) - 1, len(edges) - 2)
            found.setdefault(at, []).append(trace)
        return tuple(TraceGroup(f"loss{edges[i]:g}-{edges[i + 1]:g}pct", float(edges[i]), float(edges[i + 1]),
                                tuple(found[i])) for i in sorted(found))

    @functools.cached_property
    def lost_by_group(self) -> dict[str, tuple[np.ndarray, ...]]:
        """What replay draws from: each group's label -> its traces' lost flags."""
        return {g.label: tuple(t.lost for t in g.traces) for g in self._groups}

    def levels(self) -> tuple[Level, ...]:
        clean = Level("clean", {"group": "", "traces": 0, "packet_ms": self.packet_ms}, 0.0,
                      title="no trace (nothing lost)")
        return (clean, *(Level(g.label, {"group": g.label, "traces": len(g.traces), "packet_ms": self.packet_ms,
                                         "loss_range_pct": [g.low, g.high]}, 100.0 * g.pooled_loss)
                         for g in self._groups))


def _flags_of(path: Path) -> np.ndarray:
    """The lost flags of one file, or one :class:`UserError` line naming the file (and line) at fault."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the trace ({exc.strerror or exc})") from None
    bad = re.search(rb"[^01\s,]|[01](?=[01])", data)  # a foreign character, or a token longer than one flag
    if bad is not None:
        line = data.count(b"\n", 0, bad.start()) + 1
        tokens = re.split(rb"[\s,]+", data.split(b"\n")[line - 1])
        token = next(t for t in tokens if t not in (b"0", b"1", b""))[:12].decode("utf-8", "replace")
        raise UserError(f"{path} line {line}: {token!r} is not 0 or 1 (a trace holds one 0/1 flag per packet, "
                        f"{LOST_FLAG} = lost, as in the PLC Challenge)")
    flags = np.frombuffer(re.sub(rb"[\s,]", b"", data), dtype=np.uint8)
    if not flags.size:
        raise UserError(f"{path}: no packets (an empty trace; one 0/1 flag per packet, {LOST_FLAG} = lost)")
    return flags == ord(LOST_FLAG)


def _digest(lost: np.ndarray) -> str:
    return hashlib.sha256(f"{lost.size}:".encode() + np.packbits(lost).tobytes()).hexdigest()


def read_traces(folder: str | Path, packet_ms: float = PACKET_MS) -> TraceSet:
    """Read and check a trace folder (every file, before any work); bad input is one :class:`UserError` line."""
    folder = Path(folder).expanduser()
    try:
        packet_ms = float(packet_ms)
    except (TypeError, ValueError):
        raise UserError(f"--packet-ms must be a number of milliseconds, got {packet_ms!r}") from None
    if not np.isfinite(packet_ms) or packet_ms <= 0:
        raise UserError(f"--packet-ms must be positive, got {packet_ms:g}")
    if not folder.is_dir():
        raise UserError(f"trace folder {folder} does not exist or is not a directory")
    files = sorted(p for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise UserError(f"trace folder {folder} holds no trace files (*.txt with one 0/1 flag per packet, "
                        f"{LOST_FLAG} = lost)")
    traces = []
    for path in files:
        lost = _flags_of(path)
        traces.append(Trace(path.relative_to(folder).with_suffix("").as_posix(), lost, _digest(lost)))
    traces.sort(key=lambda t: (t.digest, t.name))
    digest = hashlib.sha256("\n".join(t.digest for t in traces).encode()).hexdigest()
    return _remember(TraceSet(folder, packet_ms, tuple(traces), digest))


_READ: dict[tuple[str, float, str], TraceSet] = {}  # the last trace sets this process read, by folder and identity


def _remember(traces: TraceSet) -> TraceSet:
    _READ[(str(traces.folder.resolve()), traces.packet_ms, traces.digest)] = traces
    while len(_READ) > 8:
        del _READ[next(iter(_READ))]
    return traces


def _replay(traces: TraceSet, timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
            modalities: tuple[str, ...]) -> KeepMasks:
    """The masks of one clip: a trace of the level's group and a start offset, replayed on every clock."""
    group = traces.lost_by_group.get(params.get("group", ""), ())
    if not group:  # the clean level
        return {m: np.ones(frame_times(timing, m).size, dtype=bool) for m in modalities}
    lost = group[int(rng.integers(len(group)))]
    offset = int(rng.integers(lost.size))
    packet_s = traces.packet_ms / 1000.0
    out = {}
    for m in modalities:
        packet = np.floor(np.maximum(frame_times(timing, m), 0.0) / packet_s + _TIME_SLACK).astype(np.int64)
        out[m] = ~lost[(offset + packet) % lost.size]
    return out


def _describe(packet_ms: float) -> str:
    return (f"Replayed packet-loss traces ({packet_ms:g} ms packets, 1 = lost): each clip takes one trace of the "
            "level's loss-rate group and a start offset from its stable hash; a frame or word is lost when the "
            "packet carrying its time is lost, on every modality's clock.")


def trace_corruption(traces: TraceSet, variant: str = "") -> Corruption:
    """The ``trace`` corruption of a read folder."""
    return Corruption(name="trace", description=_describe(traces.packet_ms), paper=SOURCE,
                      x_label="lost packets in the trace group (%)", levels=traces.levels(),
                      fn=functools.partial(_replay, traces), variant=variant)


def _checked(folder: str, packet_ms: float, digest: str) -> TraceSet:
    """The recorded traces: those this process already read with that digest, else the folder read again."""
    traces = _READ.get((str(Path(folder).resolve()), packet_ms, digest)) or read_traces(folder, packet_ms)
    if traces.digest != digest:
        raise UserError(f"the traces in {folder} changed since this run was set up (content digest "
                        f"{traces.digest[:12]}, recorded {digest[:12]}); restore them or start a new run")
    return traces


def recorded_trace_corruption(settings: dict[str, Any], variant: str) -> Corruption:
    """``trace`` as a run recorded it: levels from the record (so a finished run reads back without the folder),
    the folder read — and its content digest checked — only when masks are drawn."""
    packet_ms = float(settings["packet_ms"])
    levels = tuple(Level(lv["label"], dict(lv["params"]), float(lv["x"]), lv.get("title", ""))
                   for lv in settings["levels"])

    def replay(timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
               modalities: tuple[str, ...]) -> KeepMasks:
        return _replay(_checked(str(settings["folder"]), packet_ms, str(settings["digest"])), timing, params, rng,
                       modalities)

    return Corruption(name="trace", description=_describe(packet_ms), paper=SOURCE,
                      x_label="lost packets in the trace group (%)", levels=levels, fn=replay, variant=variant)


def trace_settings(traces: TraceSet) -> dict[str, Any]:
    """What a run records about its traces: the folder (where to read them), the packet length, the content
    digest (what identifies them) and the levels."""
    return {"folder": str(traces.folder.resolve()), "packet_ms": traces.packet_ms, "digest": traces.digest,
            "levels": [{"label": lv.label, "x": lv.x, "params": lv.params, "title": lv.title}
                       for lv in traces.levels()]}


# -- statistics (``avbench datasets traces``) -----------------------------------------------------------------------
def run_lengths(lost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of the bursts (runs of lost packets) and of the gaps (runs of received packets *between* two
    losses; the received stretches before the first and after the last loss are not gaps)."""
    lost = np.asarray(lost, dtype=bool)
    if not lost.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(np.diff(lost.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [lost.size]]))
    is_lost = lost[starts]
    bursts = lengths[is_lost]
    gaps = lengths[~is_lost]
    if gaps.size and not is_lost[0]:
        gaps = gaps[1:]
    if gaps.size and not is_lost[-1]:
        gaps = gaps[:-1]
    return bursts.astype(np.int64), gaps.astype(np.int64)


BURST_BINS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, None))


def trace_statistics(traces: TraceSet) -> dict[str, Any]:
    """Loss rate, burst-length distribution, gap lengths and the level groups of a trace folder."""
    rates = np.array([t.loss_rate for t in traces.traces])
    packets = int(sum(t.lost.size for t in traces.traces))
    lost = int(sum(int(t.lost.sum()) for t in traces.traces))
    bursts, gaps = (np.concatenate(parts) if parts else np.zeros(0, np.int64)
                    for parts in zip(*(run_lengths(t.lost) for t in traces.traces)))
    histogram = {}
    for low, high in BURST_BINS:
        count = int(((bursts >= low) & (bursts <= (high if high is not None else np.inf))).sum())
        histogram[f"{low}" if low == high else f"{low}+" if high is None else f"{low}-{high}"] = count

    def quantiles(values: np.ndarray) -> dict[str, float | None]:
        if not values.size:
            return {"mean": None, "median": None, "p90": None, "max": None}
        return {"mean": float(values.mean()), "median": float(np.median(values)),
                "p90": float(np.quantile(values, 0.9)), "max": float(values.max())}

    return {
        "folder": str(traces.folder), "packet_ms": traces.packet_ms, "digest": traces.digest,
        "traces": len(traces.traces), "packets": packets, "seconds": packets * traces.packet_ms / 1000.0,
        "loss_rate": lost / packets,
        "trace_loss_rate": {"min": float(rates.min()), "median": float(np.median(rates)), "max": float(rates.max())},
        "bursts": {"count": int(bursts.size), **quantiles(bursts), "histogram": histogram},
        "gaps": {"count": int(gaps.size), **quantiles(gaps)},
        "levels": [{"label": g.label, "traces": len(g.traces), "loss_pct": 100.0 * g.pooled_loss}
                   for g in traces.groups()],
    }


def _demo() -> Corruption:
    return trace_corruption(read_traces(DEMO_DIR))


TRACE = _demo()  # the registered ``trace``: the generated demo set shipped with avbench
