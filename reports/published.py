"""The papers' own numbers for ``--compare-published``: read from the ``reported`` leaderboard entries.

The leaderboard entries are the single copy of every published number in avbench (checked against the paper
texts by the tests), so reports never carry a second, hand-typed copy.
"""
from __future__ import annotations

from functools import lru_cache

from avbench.leaderboards.board import clean_value, metric_value
from avbench.leaderboards.schema import Entry, load_entries
from avbench.output.tables import Num


@lru_cache(maxsize=1)
def _reported() -> dict[tuple[str, str], Entry]:
    return {(e.model.label or e.model.name, e.protocol.dataset): e for e in load_entries()
            if e.provenance == "reported"}


def published(label: str, dataset: str, corruption: str, level: str | None, metric: str, digits: int = 3) -> Num:
    """The reported number of ``label`` on the paper's ``dataset`` (``level=None``: the clean condition), or an
    empty :class:`Num` when the paper did not print it."""
    entry = _reported().get((label, dataset))
    if entry is None:
        return Num(None, digits=digits)
    found = clean_value(entry, metric, corruption) if level is None else metric_value(entry, corruption, level, metric)
    if found is None:
        return Num(None, digits=digits)
    return Num(found.value, found.ci_low, found.ci_high, found.markers, digits)
