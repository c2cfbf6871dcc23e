"""Every check of untrusted input, in one place: CLI values, feature stores, corpus tables and submissions.

Each check raises :class:`~avbench.errors.UserError` (one line, exit code 2) and runs *before* any work starts, so
a bad value never costs a training run, never leaves a half-written run directory behind, and never reaches code
that would fail later with a traceback. Checks of stored files read only what they need (shapes from headers,
sizes from ``stat``), never a whole file, and never unpickle.
"""
from __future__ import annotations

import ast
import json
import math
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.atomic import owner_tag
from avbench.data.vocabulary import SPLITS
from avbench.errors import UserError
from avbench.cache import cache_dir
from decimal import Decimal, InvalidOperation

MIN_BOOTSTRAP = 100  # fewer resamples give intervals too coarse to mean anything: refused
# Upper bounds of integer options, so a typo (an extra zero, a pasted 1e20) is one line before any work, never an
# overflow deep inside numpy or an allocation after an hour of training.
MAX_BOOTSTRAP = 20_000  # resample counts are resamples × clips float64: 240 MB for 1,500 test clips
MAX_SEED = 2**32 - 1  # numpy's and every recipe's seeding takes 32 bits
MAX_SEEDS = 1000  # `--seeds N` trains N checkpoints per model
MAX_EPOCHS = 10_000
MAX_WORKERS = 4096
NAME_MAX = 255  # bytes per path component on every common file system
WARN_BOOTSTRAP = 1000  # below this the interval ends move visibly between bootstrap seeds: warned
CLAIM_DECIMALS = 3  # a claim is checked to at least this many decimals, however few it was written with
MAX_NPZ_BYTES = 512 * 2**20  # a predictions file larger than this uncompressed is refused unread



class StoreError(UserError):
    """A feature store whose files are missing, truncated, malformed or altered; ``path`` is the store."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"feature store {path}: {message}")
        self.path = Path(path)


# -- CLI values ----------------------------------------------------------------------------------------------------
def at_least(value: int | None, minimum: int, option: str, maximum: int | None = None) -> int | None:
    """``None`` (not given) passes; anything given must be an integer ≥ ``minimum`` (0 is not "not given") and,
    where the option has one, ≤ ``maximum``."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserError(f"{option} must be an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{option} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise UserError(f"{option} must be at most {maximum:,}, got {value:,}")
    return value


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``--set d_model=64 --set n_ctx=16`` → {"d_model": 64, "n_ctx": 16} (values read as Python literals)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {pair!r}")
        try:
            result[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            result[key.strip()] = raw
    return result


def seed(value: int | None, option: str) -> int | None:
    """A seed: 0 … :data:`MAX_SEED`."""
    return at_least(value, 0, option, MAX_SEED)


def unique(values: Sequence[Any], option: str) -> list[Any]:
    """Repeated models, seeds or corruptions would duplicate rows and fake the width of an interval."""
    seen, repeated = set(), []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    if repeated:
        raise UserError(f"{option} lists {', '.join(map(str, repeated))} more than once")
    return list(values)


def seed_values(seeds: int, seed_list: str | None) -> list[int]:
    """``--seeds N`` → 0..N-1, or ``--seed-list`` parsed: non-negative and distinct."""
    if seed_list is None:
        at_least(seeds, 1, "--seeds", MAX_SEEDS)
        return list(range(seeds))
    try:
        values = [int(s) for s in seed_list.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seed-list expects comma-separated integers, got {seed_list!r}") from None
    if not values:
        raise UserError("--seed-list names no seed")
    if len(values) > MAX_SEEDS:
        raise UserError(f"--seed-list names {len(values):,} seeds; at most {MAX_SEEDS:,}")
    for value in values:
        seed(value, "every --seed-list seed")
    return unique(values, "--seed-list")


def bootstrap_count(n: Any, where: str = "--bootstrap") -> int:
    """At least :data:`MIN_BOOTSTRAP` resamples (warned below :data:`WARN_BOOTSTRAP`)."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise UserError(f"{where} must be an integer number of resamples, got {n!r}")
    if n < MIN_BOOTSTRAP:
        raise UserError(f"{where} must be at least {MIN_BOOTSTRAP} resamples for a meaningful interval, got {n}")
    if n > MAX_BOOTSTRAP:
        raise UserError(f"{where} must be at most {MAX_BOOTSTRAP:,} resamples, got {n:,}")
    if n < WARN_BOOTSTRAP:
        warnings.warn(f"{where} {n} < {WARN_BOOTSTRAP}: interval ends will vary noticeably between resample seeds")
    return n


def device_name(device: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``, and a CUDA device only where one exists."""
    if device == "cpu":
        return device
    if device != "cuda" and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise UserError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    import torch  # deferred: torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device[5:]) if ":" in device else 0
    if index >= available:
        raise UserError(f"--device {device}: {'no CUDA GPU is available' if not available else f'only {available} GPU(s)'}")
    return device


def output_file(path: str | Path | None, option: str = "--out") -> Path | None:
    """A file to be written: named (not ``""``), with names the file system takes, in a directory that already
    exists (nothing is created on a typo) and can be written; not a directory."""
    if path is None:
        return None
    target = path_name(path, option)
    if not target.parent.is_dir():
        raise UserError(f"{option} {path}: directory {target.parent} does not exist")
    if target.is_dir():
        raise UserError(f"{option} {path} is a directory; give a file name")
    _probe_writable(target.parent, option, path)
    return target


def output_dir(path: str | Path | None, option: str = "--out") -> Path | None:
    """A directory to be written (created when the command writes): named (not ``""``), with names the file system
    takes, not an existing file, and inside a folder that can be written — checked before any work, so a typo never
    costs a training run."""
    if path is None:
        return None
    target = path_name(path, option)
    if target.exists() and not target.is_dir():
        raise UserError(f"{option} {path} exists and is not a directory")
    existing = target
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is not a directory")
    _probe_writable(existing, option, path)
    return target


def path_name(path: str | Path, option: str) -> Path:
    """``path`` as a :class:`Path`, refused when empty or when one of its names is longer than file systems take."""
    text = str(path)
    if not text.strip():
        raise UserError(f"{option} is empty; give a path")
    if "\0" in text:
        raise UserError(f"{option} {text!r} contains a NUL character")
    target = Path(text).expanduser()
    for part in target.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise UserError(f"{option}: the name {part[:40]}… is {len(os.fsencode(part))} bytes long; file systems "
                            f"take at most {NAME_MAX}")
    return target


def _probe_writable(directory: Path, option: str, given: str | Path) -> None:
    """Create and remove an empty temporary directory in ``directory``: the one test of writability that holds for
    every case (read-only mounts, ``/proc``, permissions, root)."""
    try:  # named like every temporary (owner and .tmp), so even a probe interrupted here is swept
        probe = tempfile.mkdtemp(prefix=f".avbench-probe.{owner_tag()}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UserError(f"{option} {given}: cannot write in {directory} ({exc.strerror or exc})") from None
    os.rmdir(probe)


def writable_directory(path: Path, what: str) -> Path:
    """A directory avbench writes into: created if absent, and really a directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{what} {path} is not a usable directory ({exc.strerror or exc})") from None
    return path


def checkpoint_cache() -> Path:
    """The cache's checkpoint directory, checked before anything trains (not after the first model has)."""

    return writable_directory(cache_dir() / "checkpoints", "checkpoint cache")


# -- feature stores ------------------------------------------------------------------------------------------------
def trainable(store: Any, name: str) -> None:
    """A store models train on has training and development clips; a signal-level store (test clips only, made by
    ``extract --signal-loss``) is named as such, since it is evaluated beside its clean store, never trained on."""
    if "signal_loss" in store.meta:
        raise UserError(f"{name} is a signal-level store (test clips after packet loss, no training clips): compare "
                        f"it with `avbench compare-loss --dataset <its clean store> --corruption "
                        f"{store.meta['signal_loss'].get('corruption')}`")
    for split in ("train", "dev"):
        if not len(store.split_indices(split)):
            raise UserError(f"{name} has no {split} clips to train on")


def store_meta(path: Path) -> dict[str, Any]:
    """``meta.json``: readable JSON with the fields and types every reader relies on
    (:class:`avbench.data.meta.StoreMeta`)."""
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise StoreError(path, "meta.json is missing")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(path, f"meta.json is not valid JSON ({exc})") from None
    from avbench.data.meta import parse_meta  # deferred: pydantic (a run opens its store after importing it)

    try:
        return parse_meta(meta, "meta.json")
    except UserError as exc:
        raise StoreError(path, str(exc)) from None


def store_file_sizes(path: Path, meta: dict[str, Any]) -> None:
    """Each frames file holds exactly ``total`` frames of its shape and dtype (truncation is found here)."""
    for name, spec in meta["modalities"].items():
        frame = int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
        for file, size in ((f"{name}.bin", spec["total"] * frame), (f"{name}_present.bin", spec["total"])):
            target = path / file
            if file.endswith("_present.bin") and not target.exists():
                continue
            actual = target.stat().st_size if target.is_file() else None
            if actual != size:
                raise StoreError(path, f"{file} is {'missing' if actual is None else f'{actual:,} bytes'}, "
                                       f"meta.json implies {size:,}")


def store_array(path: Path, file: str, rows: int | None, columns: int | None, kind: str = "f") -> np.ndarray:
    """A ``.npy`` table memory-mapped without pickle, with the expected rows, columns and number kind."""
    target = path / file
    if not target.is_file():
        raise StoreError(path, f"{file} is missing")
    try:
        array = np.load(target, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise StoreError(path, f"{file} is not a readable numeric .npy file ({exc})") from None
    if array.dtype.kind not in kind or array.ndim != 2 or (rows is not None and array.shape[0] != rows) \
            or (columns is not None and array.shape[1] != columns):
        raise StoreError(path, f"{file} has dtype {array.dtype} and shape {array.shape}, expected "
                               f"({rows if rows is not None else 'N'}, {columns if columns is not None else 'C'}) numbers")
    return array


def store_clips(path: Path, meta: dict[str, Any]) -> pd.DataFrame:
    """``clips.csv``: every column present and numeric where it must be, offsets and counts inside the files."""
    try:
        clips = pd.read_csv(path / "clips.csv", dtype={"clip_id": str, "speaker": str, "split": str})
    except FileNotFoundError:
        raise StoreError(path, "clips.csv is missing") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(path, f"clips.csv cannot be read ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    counted = [*meta["modalities"], *(["text"] if "text" not in meta["modalities"] else [])]
    needed = ["clip_id", "speaker", "split", "duration", *[c for m in counted for c in (f"{m}_offset", f"n_{m}")]]
    missing = [c for c in needed if c not in clips.columns]
    if missing:
        raise StoreError(path, f"clips.csv lacks column(s) {', '.join(missing)}")
    if not pd.api.types.is_numeric_dtype(clips["duration"]) or not np.isfinite(clips["duration"]).all():
        raise StoreError(path, "clips.csv: duration must be a finite number on every row")
    for column in needed[4:]:
        if not pd.api.types.is_integer_dtype(clips[column]) or (clips[column] < 0).any():
            raise StoreError(path, f"clips.csv: {column} must be a non-negative integer on every row")
    bad_split = sorted(set(clips["split"].astype(str)) - set(SPLITS))
    if bad_split:
        raise StoreError(path, f"clips.csv: unknown split(s) {', '.join(bad_split[:3])}")
    if clips["clip_id"].isna().any() or clips["clip_id"].duplicated().any():
        raise StoreError(path, "clips.csv: clip_id must be present and unique on every row")
    for name, spec in meta["modalities"].items():
        end = clips[f"{name}_offset"] + clips[f"n_{name}"]
        if len(end) and int(end.max()) > spec["total"]:
            raise StoreError(path, f"clips.csv: {name} offsets run past the {spec['total']:,} frames of {name}.bin")
    return clips


# -- corpus tables -------------------------------------------------------------------------------------------------
def corpus_table(path: Path, corpus: str, columns: Sequence[str], numeric: Sequence[str] = (),
                 **read_csv: Any) -> pd.DataFrame:
    """A corpus's CSV: readable text, not empty, with ``columns``, and numbers where ``numeric`` says so."""
    try:
        table = pd.read_csv(path, **read_csv)
    except FileNotFoundError:
        raise UserError(f"{corpus}: {path} is missing") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{corpus}: {path.name} is not a readable CSV table ({first})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise UserError(f"{corpus}: {path.name} lacks column(s) {', '.join(missing)}")
    if table.empty:
        raise UserError(f"{corpus}: {path.name} has no rows")
    numeric_columns(table, numeric, f"{corpus}: {path.name}")
    return table


def numeric_columns(table: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """Every value of ``columns`` is a number (the first offender is named with its CSV line)."""
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise UserError(f"{where} line {row + 2}: {column} {table[column].iloc[row]!r} is not a number")


def name_parts(names: Iterable[str], parts: int, where: str) -> None:
    """Corpus clip names that encode fields (``1001_DFA_ANG_XX``): each has exactly ``parts`` of them."""
    for name in names:
        if not isinstance(name, str) or len(name.split("_")) != parts:
            raise UserError(f"{where}: clip name {name!r} does not have {parts} '_'-separated fields")


# -- submissions ---------------------------------------------------------------------------------------------------
def run_record(info: dict[str, Any], where: str) -> None:
    """A submitted ``run.json``: distinct models and seeds, enough bootstrap resamples, integer seeds."""
    bootstrap_count(info.get("bootstrap"), f"{where}: bootstrap")
    for field in ("models", "seeds"):
        if isinstance(info.get(field), list):
            unique([json.dumps(v) for v in info[field]], f"{where}: {field}")
    if isinstance(info.get("corruptions"), dict):
        unique(list(info["corruptions"]), f"{where}: corruptions")


def npz_members(path: Path, allowed: Sequence[str], where: str) -> dict[str, tuple[int, ...]]:
    """Only ``allowed`` arrays, :data:`MAX_NPZ_BYTES` uncompressed at most, each holding exactly what its header
    declares — all read from the zip directory and the .npy headers before any array is decompressed (a 1 MB file
    can otherwise expand to gigabytes). Returns every array's declared shape."""
    shapes: dict[str, tuple[int, ...]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            unexpected = [m.filename for m in members if m.filename.removesuffix(".npy") not in allowed]
            if unexpected:
                raise UserError(f"{where}: {path.name} holds unexpected array(s) {', '.join(unexpected[:3])}; only "
                                f"{', '.join(allowed)} are accepted")
            total = sum(m.file_size for m in members)
            if total > MAX_NPZ_BYTES:
                raise UserError(f"{where}: {path.name} holds {total:,} bytes uncompressed (limit {MAX_NPZ_BYTES:,})")
            for member in members:
                key = member.filename.removesuffix(".npy")
                with archive.open(member) as fh:  # the .npy header only: a few hundred bytes decompressed
                    major, _ = np.lib.format.read_magic(fh)
                    read_header = np.lib.format.read_array_header_1_0 if major == 1 else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(fh)
                    header = fh.tell()
                if dtype.hasobject:
                    raise UserError(f"{where}: {path.name} array {key!r} holds objects: cannot be read without pickle")
                declared = math.prod(shape) * dtype.itemsize
                if declared > member.file_size:
                    raise UserError(f"{where}: {path.name} array {key!r} declares more data than it holds")
                if member.file_size > header + declared:
                    raise UserError(f"{where}: {path.name} array {key!r} holds {member.file_size - header:,} bytes, "
                                    f"more than the {declared:,} its header declares")
                shapes[key] = tuple(shape)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UserError(f"{where}: {path.name} is not a readable .npz file ({exc})") from None
    return shapes


def claim_tolerance(text: str, key: str) -> float:
    """Half a unit in the last decimal written, but never looser than :data:`CLAIM_DECIMALS` decimals allow."""

    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise UserError(f"claimed value {text!r} for {key} is not a number") from None
    if not number.is_finite():
        raise UserError(f"claimed value {text!r} for {key} is not a finite number")
    exponent = number.as_tuple().exponent
    places = max(-exponent if isinstance(exponent, int) and exponent < 0 else 0, CLAIM_DECIMALS)
    return max(0.5 * 10.0**-places, 1e-9)


def interval_contains(point: float, low: float | None, high: float | None, where: str) -> None:
    """An interval that excludes its own point estimate is a broken computation, never a result."""
    if low is None or high is None:
        return
    slack = 1e-9 * max(1.0, abs(point))
    if not low - slack <= point <= high + slack:
        raise UserError(f"{where}: interval [{low:.4f}, {high:.4f}] excludes its point {point:.4f}")
