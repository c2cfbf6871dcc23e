"""The corruption registry: named families of missing-data conditions and their per-clip keep-masks.

Usage::

    from avbench import corruptions
    markov = corruptions.get("markov")
    masks = corruptions.masks_for(markov, markov.level("pL0.5-pN0.9"), store.timing(0), seed=0,
                                  modalities=("audio", "video"))

Every mask comes from :func:`~avbench.corruptions.base.stable_rng` keyed by (seed, corruption name, level label,
clip id), so all models see the same masks for the same clip and level in any order, shard or machine.
Third-party corruptions register through the ``avbench.corruptions`` entry-point group (value
``"package.module:CORRUPTION"``, a :class:`Corruption`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks, Level, stable_rng
from avbench.corruptions.clocks import frame_count
from avbench.corruptions.processes import packet_loss_mask, random_mask
from avbench.errors import UserError, unknown
from avbench.registry import Registry
from avbench.data.store import MODALITIES, ClipTiming

__all__ = ["Corruption", "Level", "KeepMasks", "REGISTRY", "names", "get", "masks_for", "parse_selection",
           "describe", "CorruptionInfo", "condition_name", "packet_loss_mask", "random_mask", "stable_rng"]

REGISTRY: Registry[Corruption] = Registry(
    "corruption", entry_point_group="avbench.corruptions",
    entries={
        "random-audio": "avbench.corruptions.random_drop:RANDOM_AUDIO",
        "random-video": "avbench.corruptions.random_drop:RANDOM_VIDEO",
        "random-text": "avbench.corruptions.random_drop:RANDOM_TEXT",
        "random-all": "avbench.corruptions.random_drop:RANDOM_ALL",
        "markov": "avbench.corruptions.packet_loss:MARKOV",
        "async": "avbench.corruptions.packet_loss:ASYNC",
        "word_drop": "avbench.corruptions.word_drop:WORD_DROP",
        "modality": "avbench.corruptions.modality_drop:MODALITY",
        "gilbert-elliott": "avbench.corruptions.gilbert_elliott:GILBERT_ELLIOTT",
        "trace": "avbench.corruptions.traces:TRACE",
    },
    base=Corruption,
)

# ``--corruption random`` without ``--modality``: RAVER Fig. 3's two curves, audio masked, then video masked
RANDOM_DEFAULT = ("random-audio", "random-video")
RANDOM_TARGETS = (*MODALITIES, "all")


names = REGISTRY.names
get = REGISTRY.get  # the registered corruption ``name`` (unknown names raise a did-you-mean UserError)


def condition_name(corruption: str, label: str) -> str:
    """The reader's name of one condition (``modality``/``audio`` → "audio missing"); the label for anything
    unregistered, such as a paper's ``clean``."""
    return get(corruption).condition(label) if corruption in REGISTRY else label


def masks_for(corruption: Corruption, level: Level, timing: ClipTiming, seed: int,
              modalities: tuple[str, ...]) -> KeepMasks:
    """Keep-masks (True = received) of one clip at one level, for the requested modalities the clip has.

    A text mask has one entry per word. The generator is keyed by (seed, corruption, level label, clip id) only,
    and the families derive each modality's mask independently of which others are requested, so a model's
    masks never depend on evaluation order or on the other models in the run.
    """
    for m in modalities:
        if m not in MODALITIES:
            raise unknown("modality", m, MODALITIES)
    wanted = tuple(m for m in MODALITIES if m in modalities and m in timing.n_frames)
    rng = stable_rng(seed, corruption.name, level.label, timing.clip_id)
    masks = corruption.fn(timing, level.params, rng, wanted)
    for m in wanted:
        if m not in masks or np.shape(masks[m]) != (frame_count(timing, m),):
            raise ValueError(f"corruption {corruption.name!r} returned no {m} mask of length "
                             f"{frame_count(timing, m)} for clip {timing.clip_id!r}")
    return {m: np.asarray(masks[m], dtype=bool) for m in wanted}


def parse_selection(spec: str, modality: str | None = None) -> list[Corruption]:
    """Corruptions named by a CLI spec: ``"markov"``, ``"markov,random"``, ``"all"`` or any registered name.

    ``random`` is configured by ``modality``: ``audio``/``video``/``text`` give ``random-<modality>``,
    ``all`` gives ``random-all`` (every modality at once), and no modality gives RAVER's pair
    ``random-audio``, ``random-video``. ``all`` selects every registered corruption. ``modality`` without
    ``random`` in the spec is an error rather than silently ignored, since it would not do what was asked.
    """
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        raise UserError("no corruption given; choose from: " + ", ".join(["all", "random", *names()]))
    if modality is not None and modality not in RANDOM_TARGETS:
        raise unknown("modality for random", modality, RANDOM_TARGETS)
    if modality is not None and "random" not in tokens:
        raise UserError(f"--modality {modality} only configures the 'random' corruption, which {spec!r} "
                        "does not select")
    selected: list[str] = []
    for token in tokens:
        if token == "all":
            selected.extend(names())
        elif token == "random":
            selected.extend(RANDOM_DEFAULT if modality is None else (f"random-{modality}",))
        elif token in REGISTRY:
            selected.append(token)
        else:
            raise unknown("corruption", token, ["all", "random", *names()])
    return [get(name) for name in dict.fromkeys(selected)]


class CorruptionInfo(NamedTuple):
    """One row of ``avbench list corruptions``: every level, never a summary of them."""

    name: str
    levels: tuple[str, ...]
    x: tuple[float, ...]
    x_label: str
    categorical: bool
    definition: str
    paper: str


def describe() -> list[CorruptionInfo]:
    """Name, level sweep, definition and source paper of every registered corruption."""
    rows = []
    for name in names():
        corruption = get(name)
        rows.append(CorruptionInfo(name, tuple(lv.label for lv in corruption.levels),
                                   tuple(lv.x for lv in corruption.levels), corruption.x_label, corruption.categorical,
                                   corruption.description, corruption.paper))
    return rows
