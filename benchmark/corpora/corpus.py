"""What the registry knows about a corpus: how to load its labels and what to extract from it by default."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from avbench.corpora.labels import CorpusLabels


@dataclass(frozen=True)
class Corpus:
    name: str
    load: Callable[..., CorpusLabels]
    modalities: tuple[str, ...]  # what `avbench extract` produces unless told otherwise
    audio_model: str  # the paper's speech encoder (hub id)
    audio_layers: str  # "all" hidden states (RAVER) or the "last" one (word-chunk models)
    text_model: str | None = None
    description: str = ""
