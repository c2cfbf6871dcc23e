"""The one timing rule every speed benchmark uses: the best of a few repeats (the least disturbed by other load)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeats: int, warm_up: bool = False) -> float:
    """Seconds of the fastest of ``repeats`` calls, after one untimed call when ``warm_up`` (lazy init, kernels)."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
