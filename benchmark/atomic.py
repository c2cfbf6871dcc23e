"""Atomic file writes: write to a temporary sibling, fsync, then rename; and the locks of run directories.

A run killed at any moment (SIGKILL included) leaves either the old file or the new one, never half of one,
which is what makes resuming safe. Every temporary name says which process made it
(``.<name>.<host>-<pid>.<random>.tmp``), so the next command that touches a folder removes the temporaries of
writers that are gone (:func:`sweep_temporaries`) without touching those of a writer still at work beside it.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from avbench.errors import UserError

HOST = socket.gethostname()
UNOWNED_GRACE_S = 3600  # a temporary without an owner (an older avbench's, or another host's) is left alone this long


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{owner_tag()}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp_path, target)
    except OSError as exc:
        if exc.filename in (None, str(tmp_path)):  # a full disk names the file being written, not its temporary
            exc.filename = str(target)
        raise
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
def atomic_dir(path: str | os.PathLike[str], replace: bool = True) -> Iterator[Path]:
    """Build a whole directory under a temporary name and rename it into place when complete. With
    ``replace=False`` a directory that appeared meanwhile (another process built the same thing) is kept and ours
    discarded: nothing another process may have open is ever deleted."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{owner_tag()}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
        if target.exists() and replace:
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if replace or not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


# -- who wrote a temporary, and is it still there --------------------------------------------------------------------
def owner_tag() -> str:
    """``<host>-<pid>`` of this process, as temporary names carry it (dots in the host name would split it)."""
    return f"{HOST.replace('.', '_').replace('-', '_')}-{os.getpid()}"


def process_start(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, from ``/proc``), to tell it from a later process that reused
    its number; None where the system does not say."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(host: str, pid: int, started: int | None = None) -> bool | None:
    """Whether process ``pid`` of ``host`` is still running: None when that cannot be known from here (another
    host). ``started`` (:func:`process_start`) tells a reused pid from the original process."""
    if host != HOST:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except (OSError, OverflowError):
        return False
    return started is None or process_start(pid) in (None, started)


def this_process() -> dict[str, Any]:
    """This process as a holder record (``run.json``'s ``holder``): host, pid and start time."""
    return {"host": HOST, "pid": os.getpid(), "started": process_start(os.getpid())}


def holder_alive(holder: Any) -> bool:
    """Whether a holder record names a process of this host that is still running. An unreadable record names
    nobody; a process of another host cannot be checked from here, and a run killed there must stay resumable
    from here, so for it the lock file is the only guard."""
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int) \
            or not isinstance(holder.get("host"), str):
        return False
    started = holder.get("started") if isinstance(holder.get("started"), int) else None
    return process_alive(holder["host"], holder["pid"], started) is True


def stale_temporary(path: Path, now: float | None = None) -> bool:
    """A temporary whose writer is gone: its owner tag names a dead process of this host, or it has no tag we can
    check and is older than :data:`UNOWNED_GRACE_S`."""
    now = time.time() if now is None else now
    parts = path.name[1:].removesuffix(".tmp").rsplit(".", 2)
    if len(parts) == 3 and "-" in parts[1]:
        host_tag, _, pid = parts[1].rpartition("-")
        if pid.isdigit() and host_tag == owner_tag().rpartition("-")[0]:
            return process_alive(HOST, int(pid)) is False
    try:
        return now - path.lstat().st_mtime > UNOWNED_GRACE_S
    except OSError:
        return False


def sweep_temporaries(root: Path, everything: bool = False) -> None:
    """Remove the temporaries (``.*.tmp``) below ``root`` left by writers that are gone — all of them with
    ``everything`` (the caller holds the folder's lock, so nobody else writes there). Best effort: a folder we
    cannot change (a read-only cache) is left as it is."""
    now = time.time()
    try:
        found = sorted(root.rglob(".*.tmp"), key=lambda p: len(p.parts))
    except OSError:
        return
    for tmp in found:
        if not (everything or stale_temporary(tmp, now)):
            continue
        try:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)
        except OSError:
            pass


def write_json_best_effort(path: str | os.PathLike[str], obj: Any) -> bool:
    """:func:`write_json`, or on a full disk the same bytes written over the file in place (its blocks are reused,
    so a record about the failure still fits where a new temporary file does not); False when neither works."""
    try:
        write_json(path, obj)
        return True
    except OSError:
        pass
    try:
        with open(path, "r+b") as fh:
            fh.truncate(0)
            fh.write((json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        return True
    except OSError:
        return False


@contextmanager
def run_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an advisory lock on a run directory (``.lock`` inside it, through ``filelock``) while writing there.

    A second writer fails at once with one line instead of racing the first one (last writer wins otherwise).
    The kernel drops the lock when its holder dies, SIGKILL included, so a killed run never blocks its resume.
    A lock lives in its file, so deleting the file would let a second writer in: the runner therefore also
    records its process in ``run.json`` and refuses a directory whose recorded holder is still running.
    """
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to --out {target}: {exc.strerror or exc}") from None
    with _held(target / ".lock", 0, f"{target} is being written by another avbench run; wait for it or choose "
                                    "another --out", f"cannot write to --out {target}"):
        yield


@contextmanager
def folder_lock(directory: str | os.PathLike[str], what: str, wait_s: float = 600) -> Iterator[None]:
    """Serialise writers of one folder (``.<what>.lock`` in it): a second one waits for the first, up to
    ``wait_s`` seconds, then fails with one line."""
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to {target}: {exc.strerror or exc}") from None
    with _held(target / f".{what}.lock", wait_s, f"{target} is still locked by another avbench {what} after "
                                                 f"{wait_s:.0f} s", f"cannot write to {target}"):
        yield


@contextmanager
def _held(path: Path, wait_s: float, busy: str, unwritable: str) -> Iterator[None]:
    from filelock import FileLock, Timeout  # deferred: filelock (warns on import where fcntl is missing)

    lock = FileLock(str(path), timeout=wait_s)
    try:
        lock.acquire()
    except Timeout:
        raise UserError(busy) from None
    except OSError as exc:
        raise UserError(f"{unwritable}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()
