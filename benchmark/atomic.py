"""Atomic file writes: write to a temporary sibling, fsync, then rename.

A run killed at any moment (SIGKILL included) leaves either the old file or the new one, never half of one,
which is what makes resuming safe.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from avbench.errors import UserError


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Deterministic JSON (sorted keys) so identical content gives identical bytes."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> None:
    """An ``.npz`` of ``arrays`` written atomically (``np.savez`` through a handle, so the name stays as given)."""
    import numpy as np  # deferred: numpy (the CLI's lock and JSON writes need none)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    write_with(path, write)


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None], suffix: str = "") -> None:
    """Let ``writer`` fill a temporary file (keeping ``suffix`` for libraries that sniff it), then rename."""
    with atomic_path(path, suffix=suffix) as tmp:
        writer(tmp)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a whole directory under a temporary name and rename it into place when complete."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextmanager
def run_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an advisory lock on a run directory (``.lock`` inside it) while writing there.

    A second writer fails at once with one line instead of racing the first one (last writer wins otherwise).
    The kernel drops the lock when its holder dies, SIGKILL included, so a killed run never blocks its resume.
    """
    import fcntl  # deferred: fcntl (POSIX only; importing avbench must work without it)

    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        handle = open(target / ".lock", "a+")
    except OSError as exc:
        raise UserError(f"cannot write to --out {target}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(f"{target} is being written by another avbench run; wait for it or choose another --out") \
            from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
