"""``gilbert-elliott``: bursty loss from the four-parameter Gilbert–Elliott channel, of which ``markov`` is a case.

The channel has a good (G) and a bad (B) state, in the notation of Haßlinger & Hohlfeld (2008) and of the audio
packet-loss-concealment testbenches: ``p`` = P(G→B), ``r`` = P(B→G), ``k`` = P(packet received | G) and
``h`` = P(packet received | B). A packet's loss is therefore random inside each state, which the two-state Markov
model of the papers lacks: with ``k = 1`` and ``h = 0`` the good state always delivers and the bad state always
loses, and the channel *is* that model with p_N = 1 - p and p_L = 1 - r.

The state chain is drawn exactly as :func:`~avbench.corruptions.processes.packet_loss_mask` draws ``markov``'s (same
generator, same uniforms, same start in the good state), and the losses inside a state come from a child generator
spawned from that generator (``Generator.spawn``, which consumes none of its draws). So for ``k = 1, h = 0`` the
masks are the ``markov`` masks bit for bit on the same generator, and a level's masks on a longer clock begin with
those on a shorter one (every draw is made in time order). The chain runs on the same 50 Hz loss clock as
``markov`` (:func:`~avbench.corruptions.clocks.loss_grid`), so one chain masks every modality at the same moments.

The default sweep keeps the bad state's shape fixed (mean stay 1/r = 3.3 packets of 20 ms, 80 % loss inside it,
1 % isolated loss in the good state) and raises ``p``, so x, the expected loss, goes from 0 to about 60 %.
Measured networks are simulated with ``--ge-params p,r,k,h`` (see ``avbench fit-loss``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from avbench.corruptions.base import Corruption, KeepMasks, Level
from avbench.corruptions.clocks import loss_grid
from avbench.corruptions.processes import _shape, check_probability, packet_loss_mask
from avbench.errors import UserError
from avbench.data.store import ClipTiming

PARAMS = ("p", "r", "k", "h")
SOURCE = ("Gilbert 1960; Elliott 1963; four-parameter notation of Hasslinger & Hohlfeld, The Gilbert-Elliott Model "
          "for Packet Loss in Real Time Services on the Internet, MMB 2008")
# the default sweep: bad-state shape fixed, p raised (x = expected loss in percent)
SWEEP_R, SWEEP_K, SWEEP_H = 0.3, 0.99, 0.2
SWEEP_P = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.9)


def gilbert_elliott_mask(n: int, p: float, r: float, k: float, h: float, rng: np.random.Generator,
                         size: int | None = None) -> np.ndarray:
    """Keep-mask of ``n`` packets from the Gilbert–Elliott channel (True = received), starting in the good state.

    The state chain is :func:`packet_loss_mask` with p_N = 1 - p (stay good) and p_L = 1 - r (stay bad), drawn from
    ``rng`` itself; a packet in the good state is then received with probability ``k``, in the bad state with
    probability ``h``, decided by float32 uniforms from ``rng.spawn(1)`` (not drawn at all when ``k = 1`` and
    ``h = 0``, where the chain decides alone). ``size`` draws that many independent sequences, shape ``(size, n)``.
    """
    p, r, k, h = (check_probability(name, value) for name, value in zip(PARAMS, (p, r, k, h)))
    good = packet_loss_mask(n, 1.0 - r, 1.0 - p, rng, size)
    if k == 1.0 and h == 0.0:
        return good
    (child,) = rng.spawn(1)
    u = child.random(_shape(n, size), dtype=np.float32)  # float32, as the chain's: [0, 1), so u < 1 always holds
    return np.where(good, u < np.float32(k), u < np.float32(h))


def expected_loss(p: float, r: float, k: float, h: float) -> float:
    """Stationary loss rate: (1-k)·π_G + (1-h)·π_B with π_B = p / (p + r); the good state's 1-k when p = 0."""
    if p == 0.0:
        return 1.0 - k
    bad = p / (p + r)
    return (1.0 - k) * (1.0 - bad) + (1.0 - h) * bad


def ge_level(p: float, r: float, k: float, h: float) -> Level:
    """Level ``p<p>-r<r>-k<k>-h<h>`` with x = the expected loss in percent (the ADF axis of ``markov``)."""
    p, r, k, h = (check_probability(name, value) for name, value in zip(PARAMS, (p, r, k, h)))
    return Level(label=f"p{p:g}-r{r:g}-k{k:g}-h{h:g}", params={"p": p, "r": r, "k": k, "h": h},
                 x=100.0 * expected_loss(p, r, k, h))


CLEAN = ge_level(0.0, 1.0, 1.0, 0.0)  # never leaves the good state, which always delivers


def parse_ge_params(text: str) -> tuple[float, float, float, float]:
    """``"p,r,k,h"`` (four probabilities) as floats, or one :class:`UserError` line saying what is wrong."""
    parts = [t.strip() for t in text.split(",")]
    if len(parts) != 4 or not all(parts):
        raise UserError(f"--ge-params takes four probabilities p,r,k,h (p = P(good→bad), r = P(bad→good), "
                        f"k = P(received | good), h = P(received | bad)), got {text!r}")
    values = []
    for name, part in zip(PARAMS, parts):
        values.append(check_probability(f"--ge-params {name}", part))
    return tuple(values)  # type: ignore[return-value]


def _lose(timing: ClipTiming, params: dict[str, Any], rng: np.random.Generator,
          modalities: tuple[str, ...]) -> KeepMasks:
    length, index = loss_grid(timing)
    chain = gilbert_elliott_mask(length, params["p"], params["r"], params["k"], params["h"], rng)
    return {m: chain[index[m]] for m in modalities}


def gilbert_elliott(levels: tuple[Level, ...] = (), variant: str = "") -> Corruption:
    """The corruption with the default sweep, or with ``levels`` (the clean level first) for user parameters."""
    return Corruption(
        name="gilbert-elliott",
        description="Bursty packet loss from the Gilbert–Elliott channel on the 50 Hz audio clock, one chain for "
                    "all modalities: p = P(good→bad), r = P(bad→good), k = P(received | good), "
                    "h = P(received | bad); k = 1, h = 0 is `markov` with p_N = 1-p, p_L = 1-r.",
        paper=SOURCE,
        x_label="expected lost packets (%)",
        levels=levels or (CLEAN, *(ge_level(p, SWEEP_R, SWEEP_K, SWEEP_H) for p in SWEEP_P)),
        fn=_lose,
        variant=variant,
    )


GILBERT_ELLIOTT = gilbert_elliott()
