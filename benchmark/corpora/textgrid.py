"""Reading Praat TextGrid forced alignments (Montreal Forced Aligner output in MSP-Podcast).

Both the long ("ooTextFile" with ``xmin = ...`` lines) and the short format reduce to the same sequence of
numbers and quoted strings once the ``item [n]:`` / ``intervals [n]:`` headers are removed, so one token reader
handles both. Words are taken from the tier named ``words`` when there is one, else from the first interval
tier (what the authors' code reads); empty marks and silence labels are dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbench.errors import UserError

_HEADER_LINE = re.compile(r"^\s*(item|intervals|points)\s*\[\d*\]\s*:?\s*$", re.MULTILINE)
_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)')
SILENCE = frozenset({"", "sil", "sp", "<sil>"})


@dataclass(frozen=True)
class Tier:
    name: str
    kind: str  # IntervalTier | TextTier
    items: list[tuple[float, float, str]]  # (start, end, mark); for a TextTier start == end


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig", errors="replace")


def parse_textgrid(text: str, source: str = "TextGrid") -> list[Tier]:
    """All tiers of a TextGrid given as text."""
    tokens: list[str | float] = []
    for match in _TOKEN.finditer(_HEADER_LINE.sub("", text)):
        string, number = match.groups()
        tokens.append(float(number) if number is not None else string.replace('""', '"'))
    try:
        if tokens[:2] != ["ooTextFile", "TextGrid"]:
            raise ValueError("missing 'ooTextFile' / 'TextGrid' header")
        pos = 4  # skip header and the grid's xmin, xmax
        n_tiers = int(tokens[pos])
        pos += 1
        tiers = []
        for _ in range(n_tiers):
            kind, name = str(tokens[pos]), str(tokens[pos + 1])
            count = int(tokens[pos + 4])
            pos += 5
            items = []
            for _ in range(count):
                if kind == "IntervalTier":
                    items.append((float(tokens[pos]), float(tokens[pos + 1]), str(tokens[pos + 2])))
                    pos += 3
                else:
                    items.append((float(tokens[pos]), float(tokens[pos]), str(tokens[pos + 1])))
                    pos += 2
            tiers.append(Tier(name=name, kind=kind, items=items))
    except (IndexError, ValueError, TypeError) as exc:
        raise UserError(f"{source}: not a readable TextGrid ({exc})") from None
    return tiers


def read_words(path: Path) -> tuple[list[str], np.ndarray]:
    """Aligned words and their (start, end) times in seconds from a TextGrid file."""
    tiers = [t for t in parse_textgrid(_decode(path.read_bytes()), str(path)) if t.kind == "IntervalTier"]
    if not tiers:
        raise UserError(f"{path}: no interval tier")
    tier = next((t for t in tiers if t.name.strip().lower() == "words"), tiers[0])
    kept = [(s, e, m.strip()) for s, e, m in tier.items if m.strip().lower() not in SILENCE]
    times = np.array([(s, e) for s, e, _ in kept], np.float32).reshape(-1, 2)
    return [m for _, _, m in kept], times
