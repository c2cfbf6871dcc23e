"""``markov`` and ``async``: bursty loss from the two-state Markov packet-loss model.

``markov`` is the papers' setting: one chain on a common 50 Hz clock masks every modality at the same moments
(RAVER: "masks audio and visual content simultaneously within the same regions"; the audio-text paper's
Table 2 applies it to speech). Audio frames take the chain directly, a video frame takes the chain state at
its time stamp, and a word is lost when the chain is lost at the word's centre. ``async`` is RAVER's
asynchronous case: each modality gets its own independent chain on the same clock, so the loss statistics
per modality are identical to ``markov`` and only the co-occurrence differs.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks, Level
from avbench.corruptions.clocks import loss_grid
from avbench.corruptions.processes import check_probability, independent_streams, packet_loss_mask
from avbench.corruptions.sweeps import AUDIO_TEXT, RAVER
from avbench.data.store import ClipTiming

# (p_L, p_N) of Table 2 in the audio-text paper (also RAVER Fig. 5), ordered by expected loss
PAPER_PAIRS = ((0.0, 1.0), (0.1, 0.9), (0.5, 0.9), (0.1, 0.5), (0.1, 0.1), (0.5, 0.5), (0.9, 0.9),
               (0.5, 0.1), (0.9, 0.5), (0.9, 0.1))


def expected_loss(p_l: float, p_n: float) -> float:
    """Stationary share of lost frames, (1-p_N) / ((1-p_N) + (1-p_L)); 0 when the chain never leaves "received"."""
    leave_received, leave_lost = 1.0 - p_n, 1.0 - p_l
    return leave_received / (leave_received + leave_lost) if leave_received > 0 else 0.0


def markov_level(p_l: float, p_n: float) -> Level:
    """Level ``pL<p_L>-pN<p_N>`` with x = the expected dropped share in percent (the papers' ADF axis)."""
    p_l = check_probability("p_L", p_l)
    p_n = check_probability("p_N", p_n)
    return Level(label=f"pL{p_l:g}-pN{p_n:g}", params={"p_l": p_l, "p_n": p_n}, x=100.0 * expected_loss(p_l, p_n))


def _packet_loss(shared: bool) -> Callable[..., KeepMasks]:
    """The mask function of ``markov`` (one chain for all modalities) or ``async`` (one chain per modality)."""

    def lose(timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
             modalities: tuple[str, ...]) -> KeepMasks:
        p_l = check_probability("p_L", params["p_l"])
        p_n = check_probability("p_N", params["p_n"])
        length, index = loss_grid(timing)
        if shared:
            chain = packet_loss_mask(length, p_l, p_n, rng)
            return {m: chain[index[m]] for m in modalities}
        streams = independent_streams(rng, modalities)
        return {m: packet_loss_mask(length, p_l, p_n, streams[m])[index[m]] for m in modalities}

    return lose


_LEVELS = tuple(markov_level(p_l, p_n) for p_l, p_n in PAPER_PAIRS)
_CHAIN = ("two-state Markov chain (p_L = P(lost→lost), p_N = P(received→received), starts received) on the "
          "50 Hz audio clock")

MARKOV = Corruption(
    name="markov",
    description=f"Bursty packet loss: one {_CHAIN} masks all modalities at the same moments "
                "(video frames and word centres take the chain state at their time).",
    paper=f"{AUDIO_TEXT}, Table 2; {RAVER}, Fig. 5",
    x_label="approx. dropped frames, ADF (%)",
    levels=_LEVELS,
    fn=_packet_loss(shared=True),
)

ASYNC = Corruption(
    name="async",
    description=f"Asynchronous packet loss: an independent {_CHAIN} per modality.",
    paper=f"{RAVER}, Sec. V-A-2 (asynchronous missing modalities)",
    x_label="approx. dropped frames, ADF (%)",
    levels=_LEVELS,
    fn=_packet_loss(shared=False),
)
