"""How much faster the vectorised :func:`~avbench.corruptions.packet_loss_mask` is than a per-frame loop.

Run ``python -m avbench.speed.masks``. The baseline reimplements the structure of the authors' packet-loss
function: a Python loop over frames that draws each next state from the current state's transition row. It is
clearly slower, so it is timed on a subset of the sequences and scaled linearly to the full count (each
sequence costs the same, so the scaling is exact up to timer noise); the report says how many were timed.
A second, leaner loop (uniforms drawn up front, one comparison per frame) bounds how much of the gap is the
per-frame ``choice`` call rather than the loop itself.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from avbench.corruptions.processes import packet_loss_mask

P_L, P_N = 0.5, 0.9  # the 17 % pair of the audio-text paper's Table 2


def baseline_choice_loop(n: int, p_l: float, p_n: float, rng: np.random.Generator) -> np.ndarray:
    """BASELINE (the authors' structure): per frame, draw the next state from the current state's row."""
    rows = np.array([[p_n, 1.0 - p_n], [1.0 - p_l, p_l]])  # state 0 = received, 1 = lost
    state = 0
    lost = np.zeros(n, dtype=bool)
    for t in range(n):
        state = int(rng.choice(2, p=rows[state]))
        lost[t] = state == 1
    return ~lost


def baseline_lean_loop(n: int, p_l: float, p_n: float, rng: np.random.Generator) -> np.ndarray:
    """BASELINE (lean): the same chain with uniforms drawn up front and one comparison per frame.

    It draws the same float32 uniforms and applies the same thresholds as the vectorised generator, so for one
    sequence and the same generator state both return the identical mask (the tests rely on this).
    """
    u = rng.random(n, dtype=np.float32).tolist()
    stay_lost, leave_received = np.float32(p_l).item(), np.float32(p_n).item()
    lost_now = False
    lost = np.zeros(n, dtype=bool)
    for t in range(n):
        lost_now = u[t] < stay_lost if lost_now else u[t] >= leave_received
        lost[t] = lost_now
    return ~lost


def _seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` wall-clock timings (the least disturbed by other processes on a shared machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _loop_seconds(loop: Callable[..., np.ndarray], n_seq: int, n_frames: int, timed: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    seconds = _seconds(lambda: [loop(n_frames, P_L, P_N, rng) for _ in range(timed)], repeats=1)
    return seconds * n_seq / timed


def measure(n_seq: int = 10000, n_frames: int = 500, seed: int = 0, timed_choice: int = 100,
            timed_lean: int = 1000) -> dict[str, float]:
    """Time the vectorised generator and both loops on ``n_seq`` sequences of ``n_frames`` frames.

    The loops run on ``timed_choice`` / ``timed_lean`` sequences and are scaled to ``n_seq``. Returns seconds
    for each and the speed-up ratios (target: >= 50x over the authors'-style loop).
    """
    rng = np.random.default_rng(seed)
    packet_loss_mask(n_frames, P_L, P_N, rng, size=min(n_seq, 100))  # warm-up: page in code and allocator
    vectorised = _seconds(lambda: packet_loss_mask(n_frames, P_L, P_N, rng, size=n_seq), repeats=3)
    timed_choice, timed_lean = min(timed_choice, n_seq), min(timed_lean, n_seq)
    choice = _loop_seconds(baseline_choice_loop, n_seq, n_frames, timed_choice, seed)
    lean = _loop_seconds(baseline_lean_loop, n_seq, n_frames, timed_lean, seed)
    return {
        "n_seq": n_seq,
        "n_frames": n_frames,
        "vectorised_s": vectorised,
        "choice_loop_s": choice,
        "choice_loop_timed_seqs": timed_choice,
        "lean_loop_s": lean,
        "lean_loop_timed_seqs": timed_lean,
        "speedup_vs_choice_loop": choice / vectorised,
        "speedup_vs_lean_loop": lean / vectorised,
    }


def report(result: dict) -> None:
    """Print one run's timings and ratios (``avbench speed masks``)."""
    print(f"packet_loss_mask on {result['n_seq']} x {result['n_frames']} frames (p_L={P_L}, p_N={P_N})")
    print(f"  vectorised                         {result['vectorised_s']:.3f} s")
    print(f"  authors'-style choice loop          {result['choice_loop_s']:.1f} s "
          f"(timed on {result['choice_loop_timed_seqs']} sequences, scaled)  "
          f"speed-up {result['speedup_vs_choice_loop']:.0f}x")
    print(f"  lean loop (uniforms up front)       {result['lean_loop_s']:.2f} s "
          f"(timed on {result['lean_loop_timed_seqs']} sequences, scaled)  "
          f"speed-up {result['speedup_vs_lean_loop']:.0f}x")

