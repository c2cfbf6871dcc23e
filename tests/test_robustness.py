"""Robustness summaries: mean score over the real level axis, relative and effective robustness."""
from __future__ import annotations

import numpy as np
import pytest

from avbench.errors import UserError
from avbench.scoring.robustness import area_under_curve, effective_robustness, relative_robustness

# RAVER's Fig. 3 axis: 0–90 % in steps of 10, then 1 % steps up to 100 %.
RAVER_LEVELS = np.concatenate([np.arange(0, 91, 10), np.arange(91, 101)]).astype(float)


def test_area_is_a_mean_score() -> None:
    assert area_under_curve([0, 0.5, 1], [0.7, 0.7, 0.7]) == pytest.approx(0.7)
    assert area_under_curve([0, 1], [1.0, 0.0]) == pytest.approx(0.5)
    assert area_under_curve([0, 50, 100], [1.0, 0.5, 0.0]) == pytest.approx(0.5)  # independent of the x unit


def test_area_uses_the_real_level_axis() -> None:
    scores = np.where(RAVER_LEVELS <= 90, 0.8, 0.2)  # collapses only in the dense 90–100 % region
    # piecewise linear: 0.8 on [0, 90], falls to 0.2 over [90, 91], 0.2 on [91, 100]
    expected = (0.8 * 90 + 0.5 * 1 + 0.2 * 9) / 100
    assert area_under_curve(RAVER_LEVELS, scores) == pytest.approx(expected)
    equal_spacing = scores.mean()  # what an index-spaced summary would report
    assert abs(area_under_curve(RAVER_LEVELS, scores) - equal_spacing) > 0.1


def test_area_sorts_points() -> None:
    x, y = [0.0, 0.3, 0.9, 0.6], [0.9, 0.8, 0.2, 0.5]
    assert area_under_curve(x, y) == area_under_curve(sorted(x), [0.9, 0.8, 0.5, 0.2])


def test_relative_robustness() -> None:
    assert relative_robustness(0.6, 0.8) == pytest.approx(0.75)
    with pytest.raises(UserError, match="non-zero clean"):
        relative_robustness(0.6, 0.0)


def test_effective_robustness() -> None:
    x = np.linspace(0, 0.9, 10)
    baseline = 0.7 - 0.4 * x  # loses 0.18 on average over the sweep
    assert effective_robustness((x, baseline), (x, baseline)) == pytest.approx(0.0)
    assert effective_robustness((x, baseline + 0.05), (x, baseline)) == pytest.approx(0.0)  # same drop
    flat = np.full_like(x, 0.65)
    assert effective_robustness((x, flat), (x, baseline)) == pytest.approx(0.18)
    assert effective_robustness((x, baseline), (x, flat)) == pytest.approx(-0.18)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([0.0], [0.5], "at least 2"),
        ([0.0, 0.5, 0.5], [0.5, 0.4, 0.3], "repeated levels"),
        ([0.0, 0.5], [0.5, np.nan], "finite"),
        ([0.0, 0.5], [0.5], "equal length"),
    ],
)
def test_curve_validation(x: list[float], y: list[float], message: str) -> None:
    with pytest.raises(UserError, match=message):
        area_under_curve(x, y)


def test_effective_robustness_needs_the_same_levels() -> None:
    with pytest.raises(UserError, match="same levels"):
        effective_robustness(([0, 0.5, 1], [0.7, 0.6, 0.5]), ([0, 1], [0.7, 0.5]))
