"""The on-disk feature store shared by the synthetic dataset and every real corpus.

Layout of a store directory (format version 1)::

    meta.json        name, emotions, attributes, modalities {name: {rate, shape, dtype}}, fingerprint, norm stats
    clips.csv        one row per clip: clip_id, speaker, split, duration, n_<modality> counts and offsets
    labels.npy       (N, C) float32 vote shares (the distributional label); votes.npy (N, C) int rater counts
    attributes.npy   (N, 3) float32 arousal/valence/dominance on the corpus scale (NaN when absent)
    <modality>.bin   raw little-endian frames of every clip back to back, read through ``np.memmap``
    <modality>_present.bin   optional bool per frame, False where extraction found nothing (e.g. no face)
    word_times.npy   (total_words, 2) float32 start/end seconds; words.txt one word per line

Frames are memory-mapped, so no step ever needs the whole corpus in RAM, and the writer streams clips to disk.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.atomic import atomic_dir
from avbench import validate
from avbench.data.vocabulary import ATTRIBUTES, SPLITS
from avbench.errors import UserError
from avbench.validate import StoreError
from itertools import permutations

FORMAT_VERSION = 1
MODALITIES = ("audio", "video", "text")



@dataclass(frozen=True)
class ClipTiming:
    """What a corruption needs to know about one clip: its id, length and the clocks of its modalities."""

    clip_id: str
    duration: float
    n_frames: dict[str, int]
    rates: dict[str, float]
    word_times: np.ndarray  # (n_words, 2) start/end seconds

    @property
    def n_words(self) -> int:
        return int(self.word_times.shape[0])


class FeatureStore:
    """Read-only, memory-mapped view of a store directory."""

    # each data file's identity when its content was verified (avbench.data.verification); None: not verified here
    verified: dict[str, tuple[int, int, int, int] | None] | None = None

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / "meta.json").is_file():
            raise StoreError(self.path, "no feature store here (meta.json missing)")
        self.meta: dict[str, Any] = validate.store_meta(self.path)
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise StoreError(self.path, f"unsupported store format {self.meta.get('format_version')!r}")
        validate.store_file_sizes(self.path, self.meta)
        self.clips = validate.store_clips(self.path, self.meta)
        n, n_classes = len(self.clips), len(self.meta["emotions"])
        self.labels: np.ndarray = validate.store_array(self.path, "labels.npy", n, n_classes)
        self.votes: np.ndarray = validate.store_array(self.path, "votes.npy", n, n_classes, kind="fiu")
        self.attributes: np.ndarray = validate.store_array(self.path, "attributes.npy", n, 3)
        self.word_times_all: np.ndarray = np.asarray(validate.store_array(self.path, "word_times.npy", None, 2))
        end = self.clips["text_offset"] + self.clips["n_text"]
        if len(end) and int(end.max()) > len(self.word_times_all):
            raise StoreError(self.path, "clips.csv: text offsets run past the rows of word_times.npy")
        words_file = self.path / "words.txt"
        self.words_all = words_file.read_text(encoding="utf-8").split("\n")[:-1] if words_file.exists() else []
        self._frames: dict[str, np.memmap] = {}
        self._present: dict[str, np.memmap] = {}
        for name, spec in self.modalities.items():
            total = int(spec["total"])
            shape = (total, *spec["shape"])
            self._frames[name] = np.memmap(self.path / f"{name}.bin", dtype=spec["dtype"], mode="r", shape=shape)
            present = self.path / f"{name}_present.bin"
            if present.exists():
                self._present[name] = np.memmap(present, dtype=np.bool_, mode="r", shape=(total,))
        self._offsets = {m: self.clips[f"{m}_offset"].to_numpy() for m in MODALITIES if f"{m}_offset" in self.clips}
        self._counts = {m: self.clips[f"n_{m}"].to_numpy() for m in MODALITIES if f"n_{m}" in self.clips}

    # -- description -------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def emotions(self) -> list[str]:
        return list(self.meta["emotions"])

    @property
    def modalities(self) -> dict[str, dict[str, Any]]:
        return dict(self.meta["modalities"])

    @property
    def rates(self) -> dict[str, float]:
        return {m: float(s.get("rate", 0.0)) for m, s in self.modalities.items()}

    @property
    def fingerprint(self) -> str:
        return str(self.meta["fingerprint"])

    @property
    def labelled_tasks(self) -> tuple[str, ...]:
        """Tasks this store can train and score: emotion when clips carry vote shares, attributes when every clip
        has all three values (a real corpus without dimensional ratings stores NaN, which no CCC can use)."""
        tasks = []
        if len(self) and bool((np.asarray(self.labels).sum(axis=1) > 0).any()):
            tasks.append("emotion")
        if len(self) and bool(np.isfinite(np.asarray(self.attributes)).all()):
            tasks.append("attributes")
        return tuple(tasks)

    @property
    def norm(self) -> dict[str, dict[str, list[float]]]:
        """Train-split mean/std per feature channel for each modality (and for the attributes)."""
        return dict(self.meta.get("norm", {}))

    def __len__(self) -> int:
        return len(self.clips)

    def split_indices(self, split: str) -> np.ndarray:
        if split not in SPLITS:
            raise UserError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
        return np.flatnonzero(self.clips["split"].to_numpy() == split)

    # -- per-clip access ---------------------------------------------------------------------------------------
    def frames(self, modality: str, index: int) -> np.ndarray:
        """Frames of one clip for one modality, as a memory-mapped view (audio: (n, layers, dim))."""
        start = int(self._offsets[modality][index])
        return self._frames[modality][start : start + int(self._counts[modality][index])]

    def present(self, modality: str, index: int) -> np.ndarray:
        """Frames that extraction actually produced (False where e.g. no face was found)."""
        n = int(self._counts[modality][index])
        if modality not in self._present:
            return np.ones(n, dtype=bool)
        start = int(self._offsets[modality][index])
        return np.asarray(self._present[modality][start : start + n])

    def word_times(self, index: int) -> np.ndarray:
        start = int(self._offsets["text"][index]) if "text" in self._offsets else 0
        n = int(self._counts["text"][index]) if "text" in self._counts else 0
        return np.asarray(self.word_times_all[start : start + n])

    def words(self, index: int) -> list[str]:
        if not self.words_all or "text" not in self._offsets:
            return []
        start = int(self._offsets["text"][index])
        return self.words_all[start : start + int(self._counts["text"][index])]

    def timing(self, index: int) -> ClipTiming:
        row = self.clips.iloc[index]
        counts = {m: int(self._counts[m][index]) for m in self._counts}
        return ClipTiming(
            clip_id=str(row["clip_id"]),
            duration=float(row["duration"]),
            n_frames=counts,
            rates=self.rates,
            word_times=self.word_times(index),
        )


class StoreWriter:
    """Streams clips into a new store; the directory appears atomically when :meth:`close` succeeds."""

    def __init__(
        self,
        path: str | Path,
        name: str,
        emotions: Sequence[str],
        modalities: dict[str, dict[str, Any]],
        extra_meta: dict[str, Any] | None = None,
        replace: bool = True,
    ) -> None:
        """``replace=False``: when a store appears at ``path`` while this one is written (another process wrote
        the same store), keep that one; nothing another process may be reading is ever deleted."""
        self.path = Path(path)
        self.name = name
        self.emotions = list(emotions)
        self.specs = {m: dict(s) for m, s in modalities.items()}
        for m in self.specs:
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r}")
            self.specs[m].setdefault("dtype", "float16")
        self.extra_meta = extra_meta or {}
        self._ctx = atomic_dir(self.path, replace=replace)
        self._dir = self._ctx.__enter__()
        self._files = {m: open(self._dir / f"{m}.bin", "wb") for m in self.specs}
        self._present_files: dict[str, Any] = {}
        self._totals = {m: 0 for m in self.specs}
        self._rows: list[dict[str, Any]] = []
        self._labels: list[np.ndarray] = []
        self._votes: list[np.ndarray] = []
        self._attributes: list[np.ndarray] = []
        self._word_times: list[np.ndarray] = []
        self._words: list[str] = []
        self._hash = hashlib.sha256()
        # running sums for train-split normalisation statistics (float64 for accuracy)
        self._sum = {m: 0.0 for m in self.specs}
        self._sumsq = {m: 0.0 for m in self.specs}
        self._count = {m: 0 for m in self.specs}

    def add(
        self,
        clip_id: str,
        speaker: str,
        split: str,
        duration: float,
        frames: dict[str, np.ndarray],
        labels: np.ndarray | None = None,
        votes: np.ndarray | None = None,
        attributes: np.ndarray | None = None,
        word_times: np.ndarray | None = None,
        words: Sequence[str] | None = None,
        present: dict[str, np.ndarray] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Append one clip. ``frames`` maps every modality of the store to its array for this clip."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        row: dict[str, Any] = {"clip_id": clip_id, "speaker": speaker, "split": split, "duration": float(duration)}
        for m, spec in self.specs.items():
            arr = np.ascontiguousarray(frames[m], dtype=spec["dtype"])
            if tuple(arr.shape[1:]) != tuple(spec["shape"]):
                raise ValueError(f"{clip_id}: {m} frames have shape {arr.shape[1:]}, store expects {spec['shape']}")
            row[f"{m}_offset"] = self._totals[m]
            row[f"n_{m}"] = int(arr.shape[0])
            data = arr.tobytes()
            self._files[m].write(data)
            self._hash.update(data)
            self._totals[m] += int(arr.shape[0])
            if present is not None and m in present:
                if m not in self._present_files:
                    fh = open(self._dir / f"{m}_present.bin", "wb")
                    fh.write(np.ones(row[f"{m}_offset"], dtype=np.bool_).tobytes())
                    self._present_files[m] = fh
                self._present_files[m].write(np.asarray(present[m], dtype=np.bool_).tobytes())
            elif m in self._present_files:
                self._present_files[m].write(np.ones(arr.shape[0], dtype=np.bool_).tobytes())
            if split == "train" and arr.shape[0]:
                flat = arr.reshape(arr.shape[0], *arr.shape[1:]).astype(np.float64)
                self._sum[m] = self._sum[m] + flat.sum(axis=0)
                self._sumsq[m] = self._sumsq[m] + (flat**2).sum(axis=0)
                self._count[m] += int(arr.shape[0])
        wt = np.zeros((0, 2), np.float32) if word_times is None else np.asarray(word_times, np.float32).reshape(-1, 2)
        if "text" in self.specs and wt.shape[0] != row["n_text"]:
            raise ValueError(f"{clip_id}: {wt.shape[0]} word times for {row['n_text']} text vectors")
        if "text" not in self.specs:
            row["text_offset"] = sum(len(w) for w in self._word_times)
            row["n_text"] = int(wt.shape[0])
        self._word_times.append(wt)
        if words is not None:
            self._words.extend(str(w).replace("\n", " ") for w in words)
        n_classes = len(self.emotions)
        self._labels.append(np.zeros(n_classes, np.float32) if labels is None else np.asarray(labels, np.float32))
        self._votes.append(np.zeros(n_classes, np.int32) if votes is None else np.asarray(votes, np.int32))
        self._attributes.append(
            np.full(3, np.nan, np.float32) if attributes is None else np.asarray(attributes, np.float32)
        )
        row.update(extra or {})
        self._rows.append(row)

    def close(self) -> FeatureStore:
        """Write tables and metadata, compute the fingerprint and move the store into place."""
        for fh in [*self._files.values(), *self._present_files.values()]:
            fh.close()
        clips = pd.DataFrame(self._rows)
        clips.to_csv(self._dir / "clips.csv", index=False)
        labels = np.stack(self._labels) if self._labels else np.zeros((0, len(self.emotions)), np.float32)
        np.save(self._dir / "labels.npy", labels)
        np.save(self._dir / "votes.npy", np.stack(self._votes) if self._votes else labels.astype(np.int32))
        attributes = np.stack(self._attributes) if self._attributes else np.zeros((0, 3), np.float32)
        np.save(self._dir / "attributes.npy", attributes)
        np.save(self._dir / "word_times.npy", np.concatenate(self._word_times) if self._word_times
                else np.zeros((0, 2), np.float32))
        if self._words:
            (self._dir / "words.txt").write_text("\n".join(self._words) + "\n", encoding="utf-8")
        for blob in ("clips.csv", "labels.npy", "votes.npy", "attributes.npy", "word_times.npy"):
            self._hash.update((self._dir / blob).read_bytes())
        modalities = {m: {**spec, "shape": list(spec["shape"]), "total": self._totals[m]} for m, spec in self.specs.items()}
        norm: dict[str, dict[str, list[float]]] = {}
        for m in self.specs:
            if self._count[m]:
                mean = np.asarray(self._sum[m]) / self._count[m]
                var = np.maximum(np.asarray(self._sumsq[m]) / self._count[m] - mean**2, 1e-8)
                norm[m] = {"mean": mean.ravel().round(6).tolist(), "std": np.sqrt(var).ravel().round(6).tolist()}
        train = clips["split"].to_numpy() == "train" if len(clips) else np.zeros(0, bool)
        train_attr = attributes[train]
        if train_attr.size and np.isfinite(train_attr).all():
            norm["attributes"] = {"mean": train_attr.mean(0).round(6).tolist(),
                                  "std": np.maximum(train_attr.std(0), 1e-6).round(6).tolist()}
        meta = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "emotions": self.emotions,
            "attributes": list(ATTRIBUTES),
            "modalities": modalities,
            "norm": norm,
            "fingerprint": self._hash.hexdigest()[:16],
            "hash_order": list(self.specs),
            "files": {f.name: file_sha256(f) for f in data_files(self._dir)},
            **self.extra_meta,
        }
        (self._dir / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        self._ctx.__exit__(None, None, None)
        return FeatureStore(self.path)

    def abort(self) -> None:
        for fh in [*self._files.values(), *self._present_files.values()]:
            fh.close()
        try:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass


# -- fingerprints computed from content (verified by avbench.data.verification) ------------------------------------
def data_files(path: Path) -> list[Path]:
    """The files whose content a store's fingerprint covers: everything but ``meta.json`` and hidden files."""
    return sorted(f for f in path.iterdir() if f.is_file() and f.name != "meta.json" and not f.name.startswith("."))


def file_sha256(path: Path) -> str:
    """The digest ``meta.json`` records per data file (read in 4 MiB blocks: a store never needs to fit in RAM)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(store: FeatureStore, order: Sequence[str]) -> str:
    """The writer's fingerprint: every clip's frames (modalities in ``order``), then the tables' bytes."""
    h = hashlib.sha256()
    for index in range(len(store)):
        for modality in order:
            h.update(np.ascontiguousarray(store.frames(modality, index)).tobytes())
    for blob in ("clips.csv", "labels.npy", "votes.npy", "attributes.npy", "word_times.npy"):
        h.update((store.path / blob).read_bytes())
    return h.hexdigest()[:16]


def content_fingerprint(store: FeatureStore) -> str:
    """Recompute the fingerprint from the files. Stores written before ``hash_order`` was recorded are tried in
    every modality order (at most six), the canonical one first."""

    recorded = store.meta.get("hash_order")
    if isinstance(recorded, list) and sorted(recorded) == sorted(store.modalities):
        return _fingerprint(store, recorded)
    canonical = tuple(m for m in MODALITIES if m in store.modalities)
    found = ""
    for order in [canonical, *(p for p in permutations(canonical) if p != canonical)]:
        found = _fingerprint(store, order)
        if found == store.fingerprint:
            break
    return found
