"""Dataset names → feature stores: the embedded synthetic variants, or a path to any store directory.

Real corpora are turned into stores by ``avbench extract`` (see :mod:`avbench.corpora`); after that every command
takes the store's path wherever it takes a dataset name.

The embedded datasets are cached copies generated from their seed. A copy whose content no longer matches its
checksums is never repaired in place (a run may be reading it): a new copy is generated beside it (``….2``,
``….3``), and the damaged one is removed by the first command that opens the dataset once no running command uses
it (each command that opens a copy marks it in use with a temporary file naming its process).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from avbench.atomic import owner_tag, stale_temporary
from avbench.cache import cache_dir
from avbench.data.store import FeatureStore
from avbench.data.synthetic import generate, load, store_path
from avbench.data.verification import verify_content
from avbench.errors import UserError, unknown
from avbench.validate import StoreError

EMBEDDED = {"synthetic": "tiny", "synthetic-paper": "paper"}


def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).exists()


def open_dataset(name: str, seed: int = 0, verify: bool = True) -> FeatureStore:
    """Open an embedded dataset (generated and cached on first use) or a store directory, verified from content.

    A store whose files no longer match their checksums is an error naming the file; the embedded dataset is
    instead generated anew from its seed (with a warning), since its content is defined by it. ``verify=False``
    opens a store directory with its structure checked only, for a caller that verifies the content itself (a
    run, in the background, for the files it reads: :class:`avbench.data.verification.RunGuard`) or reads nothing
    but its name; an embedded dataset is small and always verified as it opens, since a damaged copy is regenerated.
    """
    if name in EMBEDDED:
        return _embedded(EMBEDDED[name], seed)
    if looks_like_path(name):
        return open_path(Path(name), verify)
    raise unknown("dataset", name, EMBEDDED)


def open_path(path: Path, verify: bool = True) -> FeatureStore:
    """A store directory, structure and (unless ``verify=False``) content verified."""
    path = path.expanduser()
    if not path.exists():
        raise UserError(f"dataset path does not exist: {path}")
    store = FeatureStore(path)
    if verify:
        store.verified = verify_content(store)
    return store


def _copies(base: Path) -> list[Path]:
    """The cached copies of one embedded dataset, oldest first (the first has no number, then ``.2``, ``.3``)."""
    numbered = [p for p in base.parent.glob(base.name + ".*") if p.suffix[1:].isdigit() and p.is_dir()]
    return ([base] if base.is_dir() else []) + sorted(numbered, key=lambda p: int(p.suffix[1:]))


def _embedded(variant: str, seed: int) -> FeatureStore:
    base = store_path(variant, seed)
    copies = _copies(base)
    current = copies[-1] if copies else base
    try:
        store = load(variant, seed, current)
        store.verified = verify_content(store)
    except StoreError as exc:
        number = int(current.suffix[1:]) if current != base else 1
        current = base.with_name(f"{base.name}.{number + 1}")
        warnings.warn(f"{exc}; regenerating the embedded dataset from its seed as a new copy ({current.name}); the "
                      "damaged copy is removed once no command uses it")
        store = load(variant, seed, current)
        store.verified = verify_content(store)
    _mark_in_use(store.path)
    for older in _copies(base):
        if older != store.path and not _in_use(older):
            shutil.rmtree(older, ignore_errors=True)
    return store


_MARKED: set[Path] = set()


def _mark_in_use(copy: Path) -> None:
    """A temporary file beside ``copy`` naming this process, removed when it exits (or, if it is killed, by the
    next command's sweep of the cache): while it is there, ``copy`` is not deleted."""
    if copy in _MARKED:
        return
    try:
        fd, marker = tempfile.mkstemp(prefix=f".{copy.name}.{owner_tag()}.", suffix=".tmp", dir=copy.parent)
    except OSError:
        return  # a read-only cache: nothing can delete the copy either
    os.close(fd)
    _MARKED.add(copy)
    atexit.register(lambda: Path(marker).unlink(missing_ok=True))


def _in_use(copy: Path) -> bool:
    for marker in copy.parent.glob(f".{copy.name}.*.tmp"):
        if marker.name[1:].removesuffix(".tmp").rsplit(".", 2)[0] == copy.name and not stale_temporary(marker):
            return True
    return False


_REGENERATED: dict[tuple[str, int], FeatureStore] = {}


def regenerate_embedded(name: str, seed: int) -> FeatureStore:
    """A fresh copy of an embedded dataset generated from its seed — what a verifier trusts instead of any cached
    copy. Generated once per process into a temporary folder of the cache (named after this process, so a killed
    verifier's copy is removed by the next command), removed at exit."""

    if (name, seed) not in _REGENERATED:
        prefix = f".regenerated-{name}-seed{seed}.{owner_tag()}."
        try:
            (cache_dir() / "datasets").mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=cache_dir() / "datasets"))
        except OSError:
            scratch = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        _REGENERATED[(name, seed)] = generate(scratch / f"{name}-seed{seed}", variant=EMBEDDED[name], seed=seed)
    return _REGENERATED[(name, seed)]
