"""The two random processes behind every frame-level corruption: bursty Markov packet loss and uniform drops.

Both return keep-masks (True = frame received) and are vectorised over frames *and* over independent
sequences, because a benchmark sweep draws masks for every clip × level × seed and the authors' per-frame
Python loop (reimplemented as the baseline in ``benchmark/speed/masks.py``) would dominate evaluation time.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from avbench.errors import UserError

# Absorbs the representation error of ratios such as 0.29 (0.29 * 100 = 28.999999999999996), so that
# "drop 29 %" of 100 frames drops 29 frames, not 28; far below 1/n for any clip length in practice.
_FLOOR_SLACK = 1e-9


def check_probability(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise :class:`UserError` unless it is a probability in [0, 1]."""
    try:
        prob = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= prob <= 1.0:  # also rejects NaN
        raise UserError(f"{name} must be in [0, 1], got {value!r}")
    return prob


def _shape(n: int, size: int | None) -> tuple[int, ...]:
    if int(n) != n or n < 0:
        raise UserError(f"number of frames must be a non-negative integer, got {n!r}")
    if size is None:
        return (int(n),)
    if int(size) != size or size < 0:
        raise UserError(f"size must be a non-negative integer, got {size!r}")
    return (int(size), int(n))


def packet_loss_mask(n: int, p_l: float, p_n: float, rng: np.random.Generator,
                     size: int | None = None) -> np.ndarray:
    """Keep-mask of ``n`` frames from the two-state Markov packet-loss model (True = received).

    ``p_l`` = P(lost → lost), ``p_n`` = P(received → received). As in the authors' code the chain starts in the
    received state and that start state is not emitted, so frame 1 is lost with probability ``1 - p_n``; the
    stationary loss rate is (1-p_n) / ((1-p_n) + (1-p_l)) and lost bursts last 1 / (1-p_l) frames on average.
    ``size`` draws that many independent sequences at once (shape ``(size, n)``).

    Vectorisation: one uniform u_t per step decides both possible transitions (lost-after-received iff
    u_t >= p_n, lost-after-lost iff u_t < p_l), so each step maps the previous state by one of: identity
    (u_t < min), negation (u_t >= max), or a constant between the two, which is "lost" when p_l > p_n and
    "received" otherwise (only one kind can occur). The state at t is therefore that constant if a constant
    step occurred (the received start state if not), flipped by the parity of the negations since the last
    constant step. An XOR-accumulate gives the running parity P_t, and a running maximum over the keys
    2·(t+1) + P_t of the constant steps recovers P at the last one, so lost_t = P_t XOR P_last XOR
    (constant is "lost" and one occurred), with no loop. Each step still uses its own independent uniform,
    so the transition probabilities are exactly those of the chain.
    """
    p_l = check_probability("p_L", p_l)
    p_n = check_probability("p_N", p_n)
    shape = _shape(n, size)
    length = shape[-1]
    # float32 uniforms halve memory traffic; their 2**-24 resolution is far below any meaningful probability
    u = rng.random(shape, dtype=np.float32)
    lost_after_received = u >= np.float32(p_n)
    lost_after_lost = u < np.float32(p_l)
    constant = lost_after_received == lost_after_lost
    parity = np.logical_xor.accumulate(lost_after_received & ~lost_after_lost, axis=-1)
    key_type = np.int16 if 2 * length + 1 < 2**15 else np.int64  # int16 halves the scan's memory traffic again
    key = np.arange(2, 2 * length + 2, 2, dtype=key_type) + parity
    key *= constant
    last_constant = np.maximum.accumulate(key, axis=-1)  # 0 where no constant step has occurred yet
    lost = parity ^ (last_constant & 1).astype(bool)
    if p_l > p_n:
        lost ^= last_constant > 0
    return ~lost


def drop_count(n: int, ratio: float) -> int:
    """⌊ratio·n⌋, the number of frames a ``ratio`` random drop removes (the authors' ``int(T*ratio)``)."""
    return int(math.floor(check_probability("drop ratio", ratio) * n + _FLOOR_SLACK))


def random_mask(n: int, ratio: float, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Keep-mask with exactly ⌊ratio·n⌋ of ``n`` frames dropped, chosen uniformly without replacement.

    The dropped frames are the ranks below the cut of i.i.d. uniforms (an argsort), which gives every subset of
    that size the same probability for all ``size`` sequences at once.
    """
    shape = _shape(n, size)
    k = drop_count(shape[-1], ratio)
    order = np.argsort(rng.random(shape), axis=-1)
    keep = np.ones(shape, dtype=bool)
    np.put_along_axis(keep, order[..., :k], False, axis=-1)
    return keep


def independent_streams(rng: np.random.Generator, modalities: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """One generator per modality, derived from one draw of ``rng`` and the modality's name.

    A modality's stream does not depend on which other modalities are requested or in what order, so the audio
    mask of an asynchronous corruption is the same for an audio-only and an audio-visual model.
    """
    entropy = int(rng.integers(0, 2**63))
    return {m: np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(zlib.crc32(m.encode()),)))
            for m in modalities}
