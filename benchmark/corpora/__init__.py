"""Real corpora: label loaders (``load_labels``) and the feature extraction behind ``avbench extract``.

``CORPORA`` maps corpus names to :class:`~avbench.corpora.corpus.Corpus` entries; modules load lazily, so
importing this package pulls in neither PyAV nor transformers. Third-party corpora register through the
``avbench.corpora`` entry-point group.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from avbench.corpora.corpus import Corpus
from avbench.corpora.labels import CorpusLabels, binarize
from avbench.errors import UserError
from avbench.registry import Registry

__all__ = ["CORPORA", "Corpus", "CorpusLabels", "binarize", "get", "load_labels", "names"]

CORPORA: Registry[Corpus] = Registry(
    "corpus", entry_point_group="avbench.corpora",
    entries={
        "crema-d": "avbench.corpora.crema_d:CORPUS",
        "msp-improv": "avbench.corpora.msp_improv:CORPUS",
        "msp-podcast": "avbench.corpora.msp_podcast:CORPUS",
    },
    base=Corpus,
)
names = CORPORA.names
get = CORPORA.get


def load_labels(name: str, root: str | Path, **options: Any) -> CorpusLabels:
    """Clip table of corpus ``name`` from the checkout at ``root``; ``options`` go to that corpus's loader."""
    corpus = get(name)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{name}: corpus root {root} does not exist or is not a directory")
    accepted = [p for p in inspect.signature(corpus.load).parameters if p != "root"]
    for key in options:
        if key not in accepted:
            raise UserError(f"option {key!r} does not apply to {name} (it takes: {', '.join(accepted)})")
    return corpus.load(root, **options)
