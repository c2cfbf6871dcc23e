"""A feature store's content, verified by every command that reads it, and guarded for the length of a run.

The writer records a SHA-256 of every data file in ``meta.json`` when it creates a store (``files``). Every
command that opens a store hashes the files it will read and compares them with that record: the content itself,
never a file's size or modification time (both can be restored after an edit: ``touch -r``). SHA-256 is the
fastest cryptographic hash of :mod:`hashlib` on CPUs with SHA instructions (0.9 GB/s on the 2-core test machine,
BLAKE2b 0.5 GB/s), so the embedded store's 68 MB take under a tenth of a second.

The per-file digests are then bound to the store's fingerprint (the digest of every clip's frames and the label
tables, which keys checkpoints and protocols) once: the fingerprint is recomputed from the frames and remembered
in ``$AVBENCH_CACHE/verified-stores/`` under a digest of the per-file digests and the fingerprint — a key made of
content, so no edit can reuse it.

A run (:class:`RunGuard`) takes each file's identity (inode, size, modification and change time; the change time
cannot be set back by a user) before hashing, verifies — in the background for a large store, while evaluation
starts — and, before any score is written, waits for the verification and checks that no file changed since: a
store edited during a run aborts it with one line instead of scoring frames that changed under it.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Collection
from pathlib import Path

from avbench.atomic import write_json
from avbench.cache import cache_dir
from avbench.data.store import MODALITIES, FeatureStore, content_fingerprint, data_files, file_sha256
from avbench.validate import StoreError

SIDECAR_DIR = "verified-stores"
BACKGROUND_BYTES = 1 << 30  # stores reading more than this are verified while the run's first units start
FileState = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns


def files_read(store: FeatureStore, modalities: Collection[str] | None = None) -> list[str]:
    """The data files a command reads: the tables, and the frame files of ``modalities`` (None: all of them)."""
    frame_files = {f"{m}{suffix}": m for m in MODALITIES for suffix in (".bin", "_present.bin")}
    return [f.name for f in data_files(store.path)
            if f.name not in frame_files or modalities is None or frame_files[f.name] in modalities]


def file_states(path: Path, names: Collection[str]) -> dict[str, FileState | None]:
    """Each file's identity now (None when it is gone)."""
    states: dict[str, FileState | None] = {}
    for name in names:
        try:
            st = (path / name).stat()
            states[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except OSError:
            states[name] = None
    return states


def verify_content(store: FeatureStore, names: Collection[str] | None = None) -> dict[str, FileState | None]:
    """Hash the files ``names`` (default: every data file) and compare them with the digests recorded at creation;
    then make sure those digests belong to the store's fingerprint. Returns the files' identities taken before
    hashing. A mismatch raises :class:`StoreError` naming the file."""
    names = list(names) if names is not None else [f.name for f in data_files(store.path)]
    states = file_states(store.path, names)
    recorded = store.meta.get("files")
    if not isinstance(recorded, dict) or not recorded:
        _check_fingerprint(store)  # a store written before per-file digests: the fingerprint itself, every time
        return states
    for name in names:
        if name not in recorded:
            raise StoreError(store.path, f"{name} has no checksum recorded in meta.json (added after the store was "
                                         "written?)")
        if states[name] is None or file_sha256(store.path / name) != recorded[name]:
            raise StoreError(store.path, f"{name} does not match the content recorded when the store was written "
                                         "(changed or corrupted)")
    _check_binding(store, recorded)
    return states


def _check_fingerprint(store: FeatureStore) -> None:
    actual = content_fingerprint(store)
    if actual != store.fingerprint:
        raise StoreError(store.path, f"its data changed: content fingerprint {actual} differs from the recorded "
                                     f"{store.fingerprint}")


def _check_binding(store: FeatureStore, recorded: dict[str, str]) -> None:
    """The recorded digests and the fingerprint belong together (checked once per content, remembered by a key
    made of both: an edit of ``meta.json`` that changes either misses it)."""
    key = hashlib.sha256(json.dumps([sorted(recorded.items()), store.fingerprint]).encode()).hexdigest()[:32]
    sidecar = cache_dir() / SIDECAR_DIR / f"{key}.json"
    if sidecar.is_file():
        return
    _check_fingerprint(store)
    try:
        write_json(sidecar, {"fingerprint": store.fingerprint, "files": recorded})
    except OSError:
        pass  # a read-only cache only means the fingerprint is recomputed next time


class RunGuard:
    """The content of the files a run reads: verified (in the background for a large store) and unchanged until
    the run's scores are written. :meth:`check` is the gate before writing them."""

    def __init__(self, store: FeatureStore, modalities: Collection[str] | None,
                 verified: dict[str, FileState | None] | None = None) -> None:
        self.store = store
        self.names = files_read(store, modalities)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if verified is not None and all(n in verified for n in self.names):
            self.states = {n: verified[n] for n in self.names}  # verified when the store was opened
            return
        self.states = file_states(store.path, self.names)
        size = sum(s[1] for s in self.states.values() if s is not None)
        if size <= BACKGROUND_BYTES:
            self.states = verify_content(store, self.names)
            return
        self._thread = threading.Thread(target=self._verify, name="avbench-store-check", daemon=True)
        self._thread.start()

    def _verify(self) -> None:
        try:
            self.states = verify_content(self.store, self.names)
        except BaseException as exc:  # reported by check(), in the run's own thread
            self._error = exc

    def failed(self) -> BaseException | None:
        """The background verification's error once it has one (the runner stops early on it)."""
        return self._error

    def check(self) -> None:
        """Wait for the verification, then make sure no file read changed since it began."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        now = file_states(self.store.path, self.names)
        changed = [name for name in self.names if now[name] != self.states[name]]
        if changed:
            raise StoreError(self.store.path, f"{', '.join(changed)} changed during the run; nothing was scored "
                                              "(run the same command again once the store is settled)")
