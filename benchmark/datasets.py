"""Dataset names → feature stores: the embedded synthetic variants, or a path to any store directory.

Real corpora are turned into stores by ``avbench extract`` (see :mod:`avbench.corpora`); after that every command
takes the store's path wherever it takes a dataset name.
"""
from __future__ import annotations

from pathlib import Path

from avbench.errors import UserError, unknown
from avbench.store import FeatureStore

EMBEDDED = {"synthetic": "tiny", "synthetic-paper": "paper"}


def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).exists()


def open_dataset(name: str, seed: int = 0) -> FeatureStore:
    """Open an embedded dataset (generated and cached on first use) or a store directory."""
    if name in EMBEDDED:
        from avbench.synthetic import load

        return load(EMBEDDED[name], seed=seed)
    if looks_like_path(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise UserError(f"dataset path does not exist: {path}")
        return FeatureStore(path)
    raise unknown("dataset", name, EMBEDDED)
