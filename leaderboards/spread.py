"""The retraining spread known for an architecture: the between-seed SD of its ranking score in verified entries.

A one-seed run's significance covers its test set only; retraining the same architecture with another seed moves
its score by about this SD. The shipped verified entries of the default run average five seeds each and keep every
seed's score (``bootstrap.scores.<corruption>.seeds``), so a one-seed run can tell which of its gaps retraining
alone could produce (:func:`avbench.scoring.summary.summary_frame`'s ``spread``).

A label is matched to the entry of the same label, else of the same architecture (``raver[n_ctx=16]`` → ``raver``);
labels with no such entry get the median SD of the architectures that have one on the same dataset, task and
corruption (the same kind of score, so the same order of magnitude); with no multi-seed entry there, nothing is known
and nothing is marked.
"""
from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from avbench.atomic import write_json
from avbench.cache import cache_dir
from avbench.errors import UserError
from avbench.leaderboards.schema import ENTRIES_DIR, Entry, entry_from_dict, slug
from avbench.models.registry import parse_label
from avbench.scoring.noise import NoiseParts, noise_parts

def seed_scores(entry: Entry, corruption: str) -> np.ndarray | None:
    """The entry's per-seed ranking scores under ``corruption``: the AUC of a sweep, the clean score for
    ``clean``, the mean over its conditions for a categorical corruption; None when it stores none."""
    stored = entry.bootstrap.get("scores", {}).get(corruption, {})
    if "seeds" in stored:
        return np.asarray(stored["seeds"], dtype=np.float64)
    if "seed_levels" in stored and stored["seed_levels"]:
        return np.mean([np.asarray(v, dtype=np.float64) for v in stored["seed_levels"].values()], axis=0)
    return None


@lru_cache(maxsize=8)
def _measured(directory: str, dataset: str, stamp: tuple[tuple[str, int, int], ...]
              ) -> tuple[tuple[str, str, str, float], ...]:
    """(label, task, corruption, between-seed SD) of every verified multi-seed entry of ``dataset``.

    ``stamp`` (file names, sizes and modification times) keys the cache: in the process, and on disk under
    ``$AVBENCH_CACHE/retraining-spread/``, because a five-seed board is megabytes of resampled scores that every
    one-seed run would otherwise parse (about half a second) for a handful of numbers. A changed entry is read again.
    """
    key = hashlib.sha256(json.dumps([directory, dataset, stamp]).encode()).hexdigest()[:32]
    sidecar = cache_dir() / "retraining-spread" / f"{key}.json"
    try:
        return tuple((str(a), str(b), str(c), float(d)) for a, b, c, d in json.loads(sidecar.read_text()))
    except (OSError, ValueError, TypeError):
        pass  # not measured yet (or unreadable): read the entries
    found = _read_spreads(directory, dataset, [name for name, *_ in stamp])
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    write_json(sidecar, [list(row) for row in found])
    return found


def _read_spreads(directory: str, dataset: str, names: Sequence[str]) -> tuple[tuple[str, str, str, float], ...]:
    found = []
    for name in names:
        path = Path(directory) / name
        try:
            entry = entry_from_dict(json.loads(path.read_text(encoding="utf-8")), where=path.name)
        except (OSError, ValueError, UserError):
            continue  # an unreadable entry teaches nothing about spread; `avbench leaderboard` reports it
        if entry.provenance != "verified" or entry.protocol.dataset != dataset or len(entry.protocol.seeds or []) < 2:
            continue
        for corruption in entry.bootstrap.get("scores", {}):
            scores = seed_scores(entry, corruption)
            if scores is not None and len(scores) > 1:
                found.append((entry.model.label or entry.model.name, entry.protocol.task, corruption,
                              float(np.std(scores, ddof=1))))
    return tuple(found)


def known_spread(dataset: str, task: str, corruption: str, labels: Sequence[str],
                 directory: str | Path | None = None) -> Mapping[str, float]:
    """Between-seed SD of the ranking score for each of ``labels`` (see the module docstring); empty when no
    verified multi-seed entry of this dataset, task and corruption exists."""
    root = Path(directory) if directory is not None else ENTRIES_DIR
    if not root.is_dir():
        return {}
    files = sorted(root.glob(f"*--{slug(dataset)}--*--verified.json"))
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    rows = [(label, sd) for label, t, c, sd in _measured(str(root), dataset, stamp) if (t, c) == (task, corruption)]
    if not rows:
        return {}
    by_label = {label: sd for label, sd in rows}
    by_model: dict[str, list[float]] = {}
    for label, sd in rows:
        by_model.setdefault(parse_label(label)[0], []).append(sd)
    fallback = statistics.median(by_label.values())
    out = {}
    for label in labels:
        model = parse_label(label)[0]
        out[label] = by_label.get(label, statistics.median(by_model[model]) if model in by_model else fallback)
    return out


def board_noise(dataset: str, task: str, corruption: str, directory: str | Path | None = None
                ) -> NoiseParts | None:
    """How the ranking scores of the verified multi-seed entries of one board (dataset, task, corruption) split
    into retraining and test-set noise (:func:`avbench.scoring.noise.noise_parts`): the entries of the protocol that
    has most of them, with the same seeds and the same clip resamples, so their resampled scores pair. None with
    fewer than two such entries. The default run's regimes of :mod:`avbench.scoring.null_size` are these parts of the
    shipped five-seed board (``tests/test_seed_significance.py`` keeps the two in step)."""
    root = Path(directory) if directory is not None else ENTRIES_DIR
    groups: dict[tuple[str, tuple[int, ...], str], list[tuple[np.ndarray, np.ndarray]]] = {}
    for path in sorted(root.glob(f"*--{slug(dataset)}--*--verified.json")):
        entry = entry_from_dict(json.loads(path.read_text(encoding="utf-8")), where=path.name)
        stored = entry.bootstrap.get("scores", {}).get(corruption, {})
        seeds = tuple(entry.protocol.seeds or [])
        resampled = stored.get("clean" if corruption == "clean" else "auc")
        if entry.protocol.task != task or len(seeds) < 2 or "seeds" not in stored or resampled is None:
            continue
        key = (entry.protocol.name, seeds, json.dumps([entry.bootstrap.get("n_resamples"),
                                                       entry.bootstrap.get("seed")]))
        groups.setdefault(key, []).append((np.asarray(stored["seeds"], np.float64),
                                           np.asarray(resampled, np.float64)))
    board = max(groups.values(), key=len, default=[])
    if len(board) < 2:
        return None
    return noise_parts(np.stack([p for p, _ in board]), np.stack([r for _, r in board]))
