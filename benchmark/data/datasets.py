"""Dataset names → feature stores: the embedded synthetic variants, or a path to any store directory.

Real corpora are turned into stores by ``avbench extract`` (see :mod:`avbench.corpora`); after that every command
takes the store's path wherever it takes a dataset name.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from pathlib import Path

from avbench.errors import UserError, unknown
from avbench.data.store import FeatureStore, verify_fingerprint
from avbench.validate import StoreError
from avbench.data.synthetic import load
from avbench.data.synthetic import generate

EMBEDDED = {"synthetic": "tiny", "synthetic-paper": "paper"}


def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).exists()


def open_dataset(name: str, seed: int = 0) -> FeatureStore:
    """Open an embedded dataset (generated and cached on first use) or a store directory, verified from content.

    A store whose files no longer match its fingerprint is an error naming the file; the embedded dataset's cache
    is instead regenerated (with a warning), since its content is defined by its seed.
    """
    if name in EMBEDDED:
        return _embedded(EMBEDDED[name], seed)
    if looks_like_path(name):
        return open_path(Path(name))
    raise unknown("dataset", name, EMBEDDED)


def open_path(path: Path) -> FeatureStore:
    """A store directory, structure and content verified."""
    path = path.expanduser()
    if not path.exists():
        raise UserError(f"dataset path does not exist: {path}")
    store = FeatureStore(path)
    verify_fingerprint(store)
    return store


def _embedded(variant: str, seed: int) -> FeatureStore:

    try:
        store = load(variant, seed=seed)
        verify_fingerprint(store)
        return store
    except StoreError as exc:
        warnings.warn(f"{exc}; regenerating the cached embedded dataset")
        shutil.rmtree(exc.path, ignore_errors=True)
    store = load(variant, seed=seed)
    verify_fingerprint(store)
    return store


_REGENERATED: dict[tuple[str, int], FeatureStore] = {}


def regenerate_embedded(name: str, seed: int) -> FeatureStore:
    """A fresh copy of an embedded dataset generated from its seed — what a verifier trusts instead of any cached
    copy. Generated once per process into a temporary directory removed at exit."""

    if (name, seed) not in _REGENERATED:
        scratch = Path(tempfile.mkdtemp(prefix="avbench-regenerated-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        _REGENERATED[(name, seed)] = generate(scratch / f"{name}-seed{seed}", variant=EMBEDDED[name], seed=seed)
    return _REGENERATED[(name, seed)]
