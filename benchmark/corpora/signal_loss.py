"""``avbench extract … --signal-loss CORRUPTION[:LEVELS]``: packet loss applied to the media before the encoders.

For every level and concealment, the test clips of the (clean) store just extracted are extracted again from
their media after losing packets: the waveform in 20 ms packets (one speech-encoder frame each), concealed and
cross-faded at the packet edges (:mod:`avbench.corpora.concealment`), the video frames frozen or black. Each
(level, concealment) becomes a store of its own, at ``<store>.signal/<corruption>/<concealment>/<level>/``.

The loss pattern is the feature-level corruption's, not a second draw: a clip's keep-masks come from
:func:`avbench.corruptions.masks_for` on the clip's timing in the clean store, with the same keys (mask seed,
corruption, level, clip id) as ``avbench run`` uses, and packet k of the waveform is lost exactly when audio frame
k is (packets after the last frame, the waveform's last few milliseconds, take its state); video frame k is lost
when its mask is. Each store records the pattern (per clip and modality, packed bits), its digest — the
``mask_digests`` entry ``avbench run`` writes for that level — and every setting in ``meta.json``
(``signal_loss``), so feature-level masking and signal-level loss are compared on the very same losses
(``avbench compare-loss``).

A signal-level store holds only the test split. Its normalisation statistics are the clean store's (training
data never changes), so models trained on the clean store evaluate it unchanged. Text is not a signal: words keep
their clean features (the comparison masks them at feature level on both sides). Modalities and clips that lose
nothing at a level keep their clean features, copied rather than recomputed, so a level without loss is the clean
test split exactly. A store is written atomically and recognised when it is already complete, so an interrupted
run resumes at the first store not yet written.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.corpora.concealment import VIDEO_LOSS, Concealment, conceal, lossy_frames
from avbench.corpora.concealment import get as get_concealment
from avbench.corpora.concealment import names as concealment_names
from avbench.corpora.labels import CorpusLabels
from avbench.corpora.media import SAMPLE_RATE, load_audio
from avbench.corruptions.base import Corruption, Level
from avbench.errors import UserError
from avbench.data.store import MODALITIES, FeatureStore, StoreWriter
from avbench import corruptions, validate
from avbench.corruptions.configured import corruption_settings, resolve
from avbench.corruptions import masks_for
from avbench.corpora.media import ClipError
from avbench.output import terminal

FORMAT = 1
AUDIO_PACKET_MS = 20.0  # one speech-encoder frame (50 Hz): the waveform's packet
DEFAULT_CONCEALMENTS = "zero,repeat,interpolate"
STANDARD_COLUMNS = {"clip_id", "speaker", "split", "duration", *(f"{m}_offset" for m in MODALITIES),
                    *(f"n_{m}" for m in MODALITIES)}


@dataclass(frozen=True)
class SignalLossPlan:
    """What ``--signal-loss`` asked for, every part checked."""

    corruption: Corruption
    settings: dict[str, Any] | None  # the corruption's configuration (None: the registered one)
    levels: tuple[Level, ...]
    concealments: tuple[Concealment, ...]
    video_loss: str = "freeze"
    crossfade_ms: float = 5.0
    mask_seed: int = 0

    @property
    def crossfade(self) -> int:
        return int(round(self.crossfade_ms * SAMPLE_RATE / 1000))

    @property
    def packet(self) -> int:
        return int(round(AUDIO_PACKET_MS * SAMPLE_RATE / 1000))


def plan_signal_loss(spec: str, concealments: str = DEFAULT_CONCEALMENTS, video_loss: str = "freeze",
                     crossfade_ms: float = 5.0, mask_seed: int = 0, traces: str | Path | None = None,
                     packet_ms: float | None = None, ge_params: list[str] | None = None) -> SignalLossPlan:
    """``CORRUPTION[:LEVEL,LEVEL]`` and the options around it, validated before any encoder loads."""

    name, _, level_text = spec.partition(":")
    name = name.strip()
    corruptions.get(name)  # unknown names: one line with suggestions
    settings = corruption_settings([name], traces, packet_ms, ge_params)
    corruption = resolve(name, settings)
    labels = validate.unique([t.strip() for t in level_text.split(",") if t.strip()], "--signal-loss levels")
    levels = tuple(corruption.level(label) for label in labels) if labels else corruption.levels
    names = validate.unique([t.strip() for t in concealments.split(",") if t.strip()], "--concealment")
    if not names:
        raise UserError("--concealment names no concealment; choose from " + ", ".join(concealment_names()))
    if video_loss not in VIDEO_LOSS:
        raise UserError(f"--video-loss must be one of {', '.join(VIDEO_LOSS)}, got {video_loss!r}")
    if not 0.0 <= crossfade_ms <= AUDIO_PACKET_MS / 2:
        raise UserError(f"--crossfade-ms must be between 0 and {AUDIO_PACKET_MS / 2:g} (half a packet), "
                        f"got {crossfade_ms:g}")
    validate.at_least(mask_seed, 0, "--mask-seed")
    return SignalLossPlan(corruption, settings.get(name), levels, tuple(get_concealment(n) for n in names),
                          video_loss, float(crossfade_ms), int(mask_seed))


def check_signal_options(signal_loss: str | None, concealments: str, video_loss: str, crossfade_ms: float,
                         mask_seed: int, traces: str | Path | None, packet_ms: float | None,
                         ge_params: list[str]) -> SignalLossPlan | None:
    """The plan of ``extract --signal-loss``; its options without ``--signal-loss`` are an error, not ignored."""
    if signal_loss is None:
        given = [name for name, value, default in (
            ("--concealment", concealments, DEFAULT_CONCEALMENTS), ("--video-loss", video_loss, "freeze"),
            ("--crossfade-ms", crossfade_ms, 5.0), ("--mask-seed", mask_seed, 0), ("--traces", traces, None),
            ("--packet-ms", packet_ms, None), ("--ge-params", ge_params or None, None)) if value != default]
        if given:
            raise UserError(f"{', '.join(given)} only configure(s) --signal-loss, which is not given")
        return None
    return plan_signal_loss(signal_loss, concealments, video_loss, crossfade_ms, mask_seed, traces, packet_ms,
                            ge_params)


def signal_root(store: str | Path) -> Path:
    store = Path(store)
    return store.with_name(store.name + ".signal")


def corruption_folder(corruption: Corruption) -> str:
    """A configured corruption's stores live apart from the registered one's (and from other configurations)."""
    return corruption.name if not corruption.variant else f"{corruption.name}-{corruption.variant[:8]}"


def level_store(root: Path, corruption: Corruption, concealment: str, level: str) -> Path:
    return Path(root) / corruption_folder(corruption) / concealment / level


def _pattern(masks: dict[str, np.ndarray]) -> dict[str, str]:
    return {m: f"{mask.size}:{np.packbits(mask).tobytes().hex()}" for m, mask in sorted(masks.items())}


def read_pattern(text: str) -> np.ndarray:
    """A recorded keep-mask (``"<length>:<hex of packed bits>"``) back as a bool array."""
    size, _, hexed = text.partition(":")
    return np.unpackbits(np.frombuffer(bytes.fromhex(hexed), dtype=np.uint8), count=int(size)).astype(bool)


class _LossyVideo:
    """The face encoder seeing the frames a receiver shows after losing the ones ``keep`` marks False."""

    def __init__(self, encoder: Any, keep: np.ndarray, mode: str) -> None:
        self.encoder, self.keep, self.mode = encoder, keep, mode
        self.shape, self.digest = encoder.shape, encoder.digest

    def __call__(self, frames: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.encoder(lossy_frames(frames, self.keep, self.mode))


@dataclass
class SignalLossReport:
    written: list[Path]
    kept: list[Path]  # already complete with these settings


def _rows_of_test_clips(labels: CorpusLabels, clean: FeatureStore, test: np.ndarray) -> list[pd.Series]:
    by_id = labels.clips.set_index("clip_id", drop=False)
    missing = [c for c in clean.clips["clip_id"].to_numpy()[test] if c not in by_id.index]
    if missing:
        raise UserError(f"{clean.path}: test clip(s) {', '.join(missing[:3])} are not in the corpus table given; "
                        "pass the same --dataset, --root and corpus options as for the clean extraction")
    return [by_id.loc[c] for c in clean.clips["clip_id"].to_numpy()[test]]


def run_signal_loss(labels: CorpusLabels, clean_path: str | Path, config: Any, plan: SignalLossPlan,
                    device: str = "auto", batch_size: int = 32, clips_per_call: int = 8,
                    on_progress: Callable[[int, int, str], None] | None = None,
                    encoders: Any = None) -> SignalLossReport:
    """One store per level × concealment of ``plan`` from the test clips of the clean store at ``clean_path``."""
    from avbench.corpora.clips import Encoders, resolve_device  # deferred: safetensors, torch
    from avbench.execution.units import digest_masks  # deferred: safetensors, torch

    clean = FeatureStore(clean_path)
    test = clean.split_indices("test")
    if not len(test):
        raise UserError(f"{clean.path} has no test clips to lose packets from")
    rows = _rows_of_test_clips(labels, clean, test)
    encoders = encoders or Encoders.build(config, resolve_device(device), batch_size)
    recorded = clean.meta.get("extraction", {}).get("settings", {}).get("encoders", {})
    for modality, digest in encoders.digests(config).items():
        if recorded.get(modality) != digest:
            raise UserError(f"{clean.path} was extracted with another {modality} encoder (sha256 "
                            f"{str(recorded.get(modality))[:12]}, now {digest[:12]}); signal-level stores must use the "
                            "clean store's encoders")
    modalities = tuple(sorted(clean.modalities))
    root = signal_root(clean.path)
    report = SignalLossReport([], [])
    total = len(plan.levels) * len(plan.concealments) * len(test)
    done = 0
    for level in plan.levels:
        masks = [masks_for(plan.corruption, level, clean.timing(int(i)), plan.mask_seed, modalities) for i in test]
        for concealment in plan.concealments:
            out = level_store(root, plan.corruption, concealment.name, level.label)
            record = _record(clean, plan, level, concealment, masks, digest_masks(masks))
            if (out / "meta.json").is_file() and FeatureStore(out).meta.get("signal_loss") == record:
                report.kept.append(out)
                done += len(test)
                if on_progress is not None:
                    on_progress(done, total, f"{concealment.name} {level.label} already written")
                continue

            def step(clip_id: str, what: str = f"{concealment.name} {level.label}") -> None:
                nonlocal done
                done += 1
                if on_progress is not None:
                    on_progress(done, total, f"{what} {clip_id}")

            _write_level(clean, test, rows, masks, concealment, plan, encoders, config, clips_per_call, out,
                         record, step)
            report.written.append(out)
    return report


def _record(clean: FeatureStore, plan: SignalLossPlan, level: Level, concealment: Concealment,
            masks: list[dict[str, np.ndarray]], digest: str) -> dict[str, Any]:
    """``meta.json``'s ``signal_loss``: every setting the store's numbers depend on, and the loss pattern."""
    clip_ids = clean.clips["clip_id"].to_numpy()[clean.split_indices("test")]
    lost = {m: int(sum(int((~clip[m]).sum()) for clip in masks if m in clip)) for m in sorted(clean.modalities)}
    return {
        "format": FORMAT,
        "base_store": {"path": str(clean.path.resolve()), "fingerprint": clean.fingerprint},
        "corruption": plan.corruption.name, "variant": plan.corruption.variant, "settings": plan.settings,
        "level": level.label, "x": level.x, "mask_seed": plan.mask_seed, "split": "test",
        "concealment": concealment.name, "packet_ms": AUDIO_PACKET_MS, "crossfade_ms": plan.crossfade_ms,
        "video_loss": plan.video_loss if "video" in clean.modalities else None,
        "signal_modalities": [m for m in ("audio", "video") if m in clean.modalities],
        "mask_digest": digest, "lost_frames": lost,
        "pattern": {str(c): _pattern(clip) for c, clip in zip(clip_ids, masks)},
    }


def _write_level(clean: FeatureStore, test: np.ndarray, rows: list[pd.Series], masks: list[dict[str, np.ndarray]],
                 concealment: Concealment, plan: SignalLossPlan, encoders: Any, config: Any, clips_per_call: int,
                 out: Path, record: dict[str, Any], step: Callable[[str], None]) -> None:
    from avbench.corpora.clips import Encoders, extract_clip  # deferred: safetensors, torch

    specs = {m: {"rate": float(s.get("rate", 0.0)), "shape": list(s["shape"]), "dtype": s["dtype"]}
             for m, s in clean.modalities.items()}
    extra_columns = [c for c in clean.clips.columns if c not in STANDARD_COLUMNS]
    meta = {key: clean.meta[key] for key in ("corpus", "corpus_options", "attribution", "extraction", "split")
            if key in clean.meta}
    writer = StoreWriter(out, clean.name, clean.emotions, specs,
                         extra_meta={**meta, "norm": clean.norm, "signal_loss": record})
    try:
        for start in range(0, len(test), clips_per_call):
            group = range(start, min(start + clips_per_call, len(test)))
            lossy = {j: [m for m in ("audio", "video") if m in masks[j] and not masks[j][m].all()] for j in group}
            waves = {j: conceal(load_audio(Path(rows[j]["audio_path"] or rows[j]["video_path"])), masks[j]["audio"],
                                concealment, plan.packet, plan.crossfade)
                     for j in group if "audio" in lossy[j]}
            audio = dict(zip(waves, encoders.audio.batch(list(waves.values())))) if waves else {}
            for j in group:
                index, clip_id = int(test[j]), str(clean.clips["clip_id"].iat[int(test[j])])
                frames = {m: np.asarray(clean.frames(m, index)) for m in specs}
                present = {"video": clean.present("video", index)} if "video" in specs else None
                if lossy[j]:
                    video = _LossyVideo(encoders.video, masks[j]["video"], plan.video_loss) \
                        if "video" in lossy[j] else None
                    try:
                        new = extract_clip(rows[j], Encoders(audio=encoders.audio, video=video),
                                           dataclasses.replace(config, modalities=tuple(lossy[j])),
                                           {"wav": waves[j], "audio": audio[j]} if j in waves else None)
                    except ClipError as exc:
                        raise UserError(f"{clip_id}: {exc} (while extracting it under signal-level loss)") from None
                    for m in lossy[j]:
                        if new[m].shape[0] != frames[m].shape[0]:
                            raise UserError(f"{clip_id}: {new[m].shape[0]} {m} frames under loss, "
                                            f"{frames[m].shape[0]} in the clean store")
                        frames[m] = new[m]
                    if "video" in lossy[j]:
                        present = {"video": new["video_present"]}
                row = clean.clips.iloc[index]
                writer.add(clip_id=clip_id, speaker=str(row["speaker"]), split="test", duration=float(row["duration"]),
                           frames=frames, labels=clean.labels[index], votes=clean.votes[index],
                           attributes=clean.attributes[index], word_times=clean.word_times(index),
                           words=clean.words(index) or None, present=present,
                           extra={c: row[c] for c in extra_columns})
                step(clip_id)
    except BaseException:
        writer.abort()
        raise
    writer.close()


def extract_signal_loss(labels: CorpusLabels, clean_path: Path, config: Any, plan: SignalLossPlan, device: str,
                        batch_size: int, clips_per_call: int, console: Any) -> SignalLossReport:
    """:func:`run_signal_loss` with progress (a bar, or plain lines in a log) and a closing summary."""

    n = len(plan.levels) * len(plan.concealments)
    console.print(f"signal-level loss: {plan.corruption.name}, {len(plan.levels)} level(s) × "
                  f"{len(plan.concealments)} concealment(s) ({', '.join(c.name for c in plan.concealments)}) "
                  f"= {n} store(s) of the test clips", highlight=False)
    with terminal.progress(console, "signal-level loss (clips)") as bar:
        report = run_signal_loss(labels, clean_path, config, plan, device, batch_size, clips_per_call,
                                 lambda done, total, what: bar.update(completed=done, total=total, description=what))
    for path in report.written:
        console.print(f"written: {path}", highlight=False)
    if report.kept:
        console.print(f"{len(report.kept)} store(s) already complete with these settings, kept", highlight=False)
    console.print(f"signal-level stores under {signal_root(clean_path)}; compare them with feature-level masking: "
                  f"avbench compare-loss --dataset {clean_path} --corruption {plan.corruption.name}", highlight=False)
    return report
