"""Gilbert–Elliott parameters estimated from loss traces (``avbench fit-loss``), so a measured network can be
simulated on any corpus.

The channel is a two-state hidden Markov model with a 0/1 output (:mod:`avbench.corruptions.gilbert_elliott`:
``p`` = P(G→B), ``r`` = P(B→G), ``k`` = P(received | G), ``h`` = P(received | B)). It is fitted by maximum
likelihood with the Baum–Welch (EM) algorithm, started from two points — the method-of-moments solution and a
generic bursty channel — keeping the fit with the higher likelihood:

* **Moments.** With a = P(loss), u_j = P(loss at t and at t+j) and w = P(loss at t, t+1, t+2), a two-state chain
  gives u_j = a² + λ^j (m₂ - a²) and w = a³ + 2λa(m₂ - a²) + λ²(m₃ - 2am₂ + a³), where λ = 1 - p - r and
  m_n = π_G(1-k)^n + π_B(1-h)^n. So λ and m₂ come from u₁ and u₂, m₃ from w, and the two loss probabilities are
  the roots of x² - σ₁x + σ₂ with σ₁ = (m₃ - am₂)/(m₂ - a²), σ₂ = σ₁a - m₂ (a two-point distribution matched to
  its first three moments); π_B follows from a, and p = π_B(1-λ), r = π_G(1-λ).
* **Baum–Welch.** Scaled forward–backward over all traces at once (each cut into segments of at most
  :data:`SEGMENT` packets, so a long recording costs no long Python loop; a segment's first state has its own
  fitted distribution), iterated until the log-likelihood gains less than 1e-7 per packet or
  :data:`MAX_ITERATIONS` iterations.

The bad state is the one that loses more. The fit is checked by the statistics a user recognises: the trace's
loss rate and mean burst length beside the fitted channel's. Accuracy, measured by the tests on simulated traces
of known parameters (60 traces of 1,000 packets): p within 0.02, r within 0.08, k within 0.01, h within 0.08.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from avbench.corruptions.gilbert_elliott import expected_loss
from avbench.corruptions.traces import run_lengths

SEGMENT = 250  # packets per segment of the forward-backward recursion
MAX_ITERATIONS = 300
TOLERANCE = 1e-7  # log-likelihood gain per packet that ends the iteration
_FLOOR = 1e-6  # keeps probabilities off 0 and 1 inside EM (a state that is never left would never be re-estimated)


@dataclass(frozen=True)
class GEFit:
    """Fitted parameters, how well they explain the traces, and the command that simulates them."""

    p: float
    r: float
    k: float
    h: float
    packets: int
    log_likelihood: float  # per packet, natural log
    iterations: int
    start: str  # which starting point won: "moments" or "generic"
    observed_loss: float
    model_loss: float
    observed_mean_burst: float | None
    model_mean_burst: float | None

    @property
    def params(self) -> str:
        return ",".join(f"{v:.4g}" for v in (self.p, self.r, self.k, self.h))

    def command(self) -> str:
        return f"avbench run --corruption gilbert-elliott --ge-params {self.params}"

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "ge_params": self.params, "command": self.command()}


def _segments(traces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Traces cut into rows of at most SEGMENT packets: (lost, valid), both (rows, width) bool."""
    pieces = [t[i : i + SEGMENT] for t in traces for i in range(0, t.size, SEGMENT) if t.size]
    width = max(p.size for p in pieces)
    lost = np.zeros((len(pieces), width), dtype=bool)
    valid = np.zeros((len(pieces), width), dtype=bool)
    for row, piece in enumerate(pieces):
        lost[row, : piece.size] = piece
        valid[row, : piece.size] = True
    return lost, valid


def _pair_rate(traces: list[np.ndarray], lag: int) -> float:
    hits = sum(int((t[:-lag] & t[lag:]).sum()) for t in traces if t.size > lag)
    pairs = sum(t.size - lag for t in traces if t.size > lag)
    return hits / pairs if pairs else 0.0


def moment_start(traces: list[np.ndarray]) -> tuple[float, float, float, float] | None:
    """The method-of-moments (p, r, k, h), or None where the statistics admit no two-state solution."""
    packets = sum(t.size for t in traces)
    a = sum(int(t.sum()) for t in traces) / packets
    u1, u2 = _pair_rate(traces, 1), _pair_rate(traces, 2)
    triples = sum(t.size - 2 for t in traces if t.size > 2)
    w = sum(int((t[:-2] & t[1:-1] & t[2:]).sum()) for t in traces if t.size > 2) / triples if triples else 0.0
    if u1 - a * a <= 1e-12:
        return None
    lam = (u2 - a * a) / (u1 - a * a)
    if not 0.0 < lam < 1.0:
        return None
    m2 = a * a + (u1 - a * a) / lam
    m3 = (w - a**3 - 2 * lam * a * (m2 - a * a)) / lam**2 + 2 * a * m2 - a**3
    variance = m2 - a * a
    if variance <= 1e-12:
        return None
    s1 = (m3 - a * m2) / variance
    s2 = s1 * a - m2
    disc = s1 * s1 - 4 * s2
    if disc < 0:
        return None
    good_loss, bad_loss = (s1 - disc**0.5) / 2, (s1 + disc**0.5) / 2
    if not (0.0 <= good_loss < bad_loss <= 1.0):
        return None
    bad = (a - good_loss) / (bad_loss - good_loss)
    if not 0.0 < bad < 1.0:
        return None
    return bad * (1 - lam), (1 - bad) * (1 - lam), 1 - good_loss, 1 - bad_loss


def _baum_welch(lost: np.ndarray, valid: np.ndarray, start: tuple[float, float, float, float]
                ) -> tuple[tuple[float, float, float, float], float, int]:
    """EM from ``start``: ((p, r, k, h), log-likelihood per packet, iterations)."""
    p, r, k, h = start
    rows, width = lost.shape
    packets = int(valid.sum())
    first = np.array([1 - p / (p + r), p / (p + r)]) if p + r > 0 else np.array([1.0, 0.0])
    previous = -np.inf
    x = lost.T  # (time, rows)
    v = valid.T
    loglik = -np.inf
    for iteration in range(1, MAX_ITERATIONS + 1):
        p, r = (min(max(q, _FLOOR), 1 - _FLOOR) for q in (p, r))
        loss = np.clip(np.array([1 - k, 1 - h]), _FLOOR, 1 - _FLOOR)
        A = np.array([[1 - p, p], [r, 1 - r]])
        # emission probability of every observation in each state; 1 where a segment has ended (no observation)
        emit = np.where(x[..., None], loss, 1 - loss)
        emit[~v] = 1.0
        alpha = np.empty((width, rows, 2))
        scale = np.empty((width, rows))
        a = first[None, :] * emit[0]
        for t in range(width):
            if t:
                a = (alpha[t - 1] @ A) * emit[t]
            scale[t] = a.sum(axis=1)
            alpha[t] = a / scale[t][:, None]
        loglik = float(np.log(scale[v]).sum()) / packets
        beta = np.empty((width, rows, 2))
        beta[-1] = 1.0
        for t in range(width - 2, -1, -1):
            beta[t] = ((emit[t + 1] * beta[t + 1]) @ A.T) / scale[t + 1][:, None]
        gamma = alpha * beta
        gamma /= gamma.sum(axis=2, keepdims=True)
        # expected transitions t -> t+1 where both packets exist
        both = (v[:-1] & v[1:])[..., None, None]
        xi = alpha[:-1, :, :, None] * A[None, None] * (emit[1:] * beta[1:])[:, :, None, :] / scale[1:, :, None, None]
        xi = (xi * both).sum(axis=(0, 1))
        occupied = (gamma[:-1] * both[..., 0]).sum(axis=(0, 1))
        weight = gamma * v[..., None]
        in_state = weight.sum(axis=(0, 1))
        lost_in_state = (weight * x[..., None]).sum(axis=(0, 1))
        p = xi[0, 1] / occupied[0] if occupied[0] > 0 else p
        r = xi[1, 0] / occupied[1] if occupied[1] > 0 else r
        k = 1 - lost_in_state[0] / in_state[0] if in_state[0] > 0 else k
        h = 1 - lost_in_state[1] / in_state[1] if in_state[1] > 0 else h
        first = np.clip(gamma[0].mean(axis=0), _FLOOR, 1.0)
        first /= first.sum()
        if loglik - previous < TOLERANCE:
            break
        previous = loglik
    return (float(p), float(r), float(k), float(h)), loglik, iteration


def _canonical(params: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Bad state = the one that loses more (EM may converge with the labels swapped)."""
    p, r, k, h = params
    return (r, p, h, k) if h > k else (p, r, k, h)


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def fit_gilbert_elliott(traces: list[np.ndarray]) -> GEFit:
    """Maximum-likelihood Gilbert–Elliott parameters of the traces (bool arrays, True = lost)."""

    traces = [np.asarray(t, dtype=bool) for t in traces if np.size(t)]
    packets = sum(t.size for t in traces)
    observed = sum(int(t.sum()) for t in traces) / packets
    bursts = np.concatenate([run_lengths(t)[0] for t in traces])
    if observed in (0.0, 1.0):  # nothing (or everything) lost: the chain never (always) delivers
        params = (0.0, 1.0, 1.0, 0.0) if observed == 0.0 else (1.0, 0.0, 0.0, 0.0)
        fits = [(params, 0.0, 0, "degenerate")]
    else:
        lost, valid = _segments(traces)
        starts = {"generic": (min(0.5, max(observed, 0.01)) * 0.25, 0.25, 1 - observed / 4,
                              max(0.0, 1 - 2 * observed))}
        moments = moment_start(traces)
        if moments is not None:
            starts = {"moments": moments, **starts}
        fits = [(*_baum_welch(lost, valid, start), name) for name, start in starts.items()]
    (p, r, k, h), loglik, iterations, start = max(fits, key=lambda f: f[1])
    p, r, k, h = _canonical((p, r, k, h))
    return GEFit(p, r, k, h, packets, loglik, iterations, start, observed, expected_loss(p, r, k, h),
                 _mean(bursts), mean_burst(p, r, k, h))


def mean_burst(p: float, r: float, k: float, h: float) -> float | None:
    """Mean length of a run of losses of the stationary channel: P(loss) / P(loss then received), where
    P(loss at t and t+1) = a² + λ(m₂ - a²) (see the module's moments)."""
    a = expected_loss(p, r, k, h)
    if a == 0.0 or p + r == 0.0:
        return None
    bad = p / (p + r)
    m2 = (1 - bad) * (1 - k) ** 2 + bad * (1 - h) ** 2
    both = a * a + (1 - p - r) * (m2 - a * a)
    return a / (a - both) if a > both else None
