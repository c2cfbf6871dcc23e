"""Speaker-independent train/dev/test partitions.

Speakers (never clips) are assigned to splits, so no voice or face seen in training appears at test time. The
assignment depends only on the set of speakers and the seed, not on the order rows arrive in. With ``strata``
(e.g. sex × age group) the speakers are ordered stratum by stratum and split labels are dealt in an interleaved
quota sequence, which gives every stratum close to the global train/dev/test proportions.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from avbench.errors import UserError
from avbench.data.vocabulary import SPLITS

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Speakers per split: dev and test are rounded, train takes the rest; every split gets at least one."""
    if len(fractions) != len(SPLITS) or any(f <= 0 for f in fractions):
        raise UserError(f"split fractions must be three positive numbers, got {tuple(fractions)}")
    if n < len(SPLITS):
        raise UserError(f"need at least {len(SPLITS)} speakers for a train/dev/test split, got {n}")
    total = float(sum(fractions))
    dev = max(1, round(n * fractions[1] / total))
    test = max(1, round(n * fractions[2] / total))
    train = n - dev - test
    if train < 1:
        raise UserError(f"split fractions {tuple(fractions)} leave no training speaker among {n}")
    return [train, dev, test]


def interleaved_labels(counts: Sequence[int]) -> list[str]:
    """Split names in an order where every prefix is as close as possible to the target proportions."""
    n = sum(counts)
    assigned = [0] * len(counts)
    order: list[str] = []
    for i in range(n):
        deficits = [counts[k] * (i + 1) / n - assigned[k] for k in range(len(counts))]
        k = int(np.argmax(deficits))
        assigned[k] += 1
        order.append(SPLITS[k])
    return order


def speaker_splits(
    speakers: Sequence[str],
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    strata: Mapping[str, Hashable] | None = None,
) -> dict[str, str]:
    """Map every speaker to ``train``, ``dev`` or ``test``, deterministically from ``seed``."""
    unique = sorted(set(speakers))
    counts = split_counts(len(unique), fractions)
    rank = dict(zip(unique, np.random.default_rng(seed).permutation(len(unique)).tolist(), strict=True))
    if strata is None:
        ordered = sorted(unique, key=rank.__getitem__)
    else:
        missing = [s for s in unique if s not in strata]
        if missing:
            raise UserError(f"no stratum (e.g. sex/age) for speaker(s) {', '.join(missing[:5])}")
        ordered = sorted(unique, key=lambda s: (str(strata[s]), rank[s]))
    return dict(zip(ordered, interleaved_labels(counts), strict=True))


def session_fold(session: int, fold: int, n_sessions: int) -> str:
    """Leave-one-session-out: session ``fold`` is test, the next one (cyclically) dev, the rest train."""
    if not 1 <= fold <= n_sessions:
        raise UserError(f"fold must be between 1 and {n_sessions}, got {fold}")
    if session == fold:
        return "test"
    if session == fold % n_sessions + 1:
        return "dev"
    return "train"
