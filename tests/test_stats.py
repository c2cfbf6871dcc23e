"""Bootstrap intervals, paired tests, t-tests, the 5×5 subset protocol and Holm's correction."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from avbench.errors import UserError
from avbench.scoring.metrics import CLASSIFICATION_METRICS, attribute_scores, ccc, classification_scores
from avbench.speed.bootstrap import measure
from avbench.scoring.stats import (
    bootstrap_ccc,
    bootstrap_ci,
    bootstrap_distribution,
    ccc_distribution,
    holm,
    paired_bootstrap,
    paired_bootstrap_ccc,
    protocol_points,
    resample_counts,
    resample_indices,
    significance_markers,
    subset_indices,
    subset_points,
    t_test,
)


def _classification_data(seed: int = 0, n: int = 120, c: int = 6, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shares = np.stack([rng.multinomial(8, rng.dirichlet(np.full(c, 0.6))) for _ in range(n)]) / 8
    return shares, np.clip(shares + rng.normal(0, noise, shares.shape), 0, 1)


def _attribute_data(seed: int = 0, n: int = 150, noise: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 3))
    return t, t + rng.normal(0, noise, size=(n, 3))


def test_resample_counts_match_indices() -> None:
    indices = resample_indices(30, 7, seed=3)
    counts = resample_counts(indices, 30)
    assert counts.shape == (7, 30) and np.all(counts.sum(axis=1) == 30)
    for row, idx in zip(counts, indices):
        np.testing.assert_array_equal(row, np.bincount(idx, minlength=30))


def test_bootstrap_ci_point_is_exact_and_inside() -> None:
    y, p = _classification_data()
    intervals = bootstrap_ci(y, p, n_resamples=300)
    point = classification_scores(y, p)
    for key in CLASSIFICATION_METRICS:
        value, low, high = intervals[key]
        assert value == point[key]
        assert low <= value <= high and low < high, key
    value, low, high = intervals["per_class_f1"]
    np.testing.assert_array_equal(value, point["per_class_f1"])
    assert low.shape == high.shape == (6,) and np.all(low <= high)


def test_bootstrap_is_seeded() -> None:
    y, p = _classification_data()
    first = bootstrap_ci(y, p, n_resamples=100, seed=1)
    assert bootstrap_ci(y, p, n_resamples=100, seed=1)["macro_f1"] == first["macro_f1"]
    assert bootstrap_ci(y, p, n_resamples=100, seed=2)["macro_f1"] != first["macro_f1"]


def test_vectorised_bootstrap_equals_slow_loop() -> None:
    y, p = _classification_data(seed=4, n=50)
    n_resamples, seed = 15, 9
    distribution = bootstrap_distribution(y, p, n_resamples=n_resamples, seed=seed)
    for b, idx in enumerate(resample_indices(len(y), n_resamples, seed)):
        slow = classification_scores(y[idx], p[idx])
        for key, value in slow.items():
            np.testing.assert_allclose(distribution[key][b], value, rtol=1e-12, atol=1e-15, err_msg=key)


def test_vectorised_ccc_bootstrap_equals_slow_loop() -> None:
    t, p = _attribute_data(seed=5, n=40)
    n_resamples, seed = 15, 2
    distribution = ccc_distribution(t, p, n_resamples=n_resamples, seed=seed)
    for b, idx in enumerate(resample_indices(len(t), n_resamples, seed)):
        for key, value in attribute_scores(t[idx], p[idx]).items():
            assert distribution[key][b] == pytest.approx(value, rel=1e-10), key


def test_bootstrap_ccc_point_and_seed() -> None:
    t, p = _attribute_data()
    intervals = bootstrap_ccc(t, p, n_resamples=200)
    point = attribute_scores(t, p)
    for key, (value, low, high) in intervals.items():
        assert value == point[key] and low <= value <= high
    assert bootstrap_ccc(t, p, n_resamples=200, seed=1) != intervals


def test_paired_bootstrap_identical_models() -> None:
    y, p = _classification_data()
    assert paired_bootstrap(y, p, p, n_resamples=100) == (0.0, 0.0, 0.0, 1.0)
    t, q = _attribute_data()
    assert paired_bootstrap_ccc(t, q, q, n_resamples=100) == (0.0, 0.0, 0.0, 1.0)


def test_paired_bootstrap_detects_a_better_model() -> None:
    y, good = _classification_data(noise=0.1)
    _, bad = _classification_data(noise=0.45)
    diff, low, high, p_value = paired_bootstrap(y, good, bad, metric="macro_f1", n_resamples=400)
    assert diff == pytest.approx(classification_scores(y, good)["macro_f1"] - classification_scores(y, bad)["macro_f1"])
    assert 0 < low <= diff <= high and p_value < 0.01
    brier = paired_bootstrap(y, good, bad, metric="brier", n_resamples=100)
    assert brier[0] < 0 and brier[2] < 0  # lower Brier for the better model: A − B is negative
    t, close = _attribute_data(noise=0.3)
    far = t + np.random.default_rng(1).normal(0, 1.5, t.shape)
    ccc_diff, ccc_low, _, ccc_p = paired_bootstrap_ccc(t, close, far, metric="ccc_valence", n_resamples=300)
    assert ccc_diff > 0 and ccc_low > 0 and ccc_p < 0.01


def test_paired_bootstrap_validation() -> None:
    y, p = _classification_data(n=20)
    with pytest.raises(UserError, match="unknown classification metric"):
        paired_bootstrap(y, p, p, metric="macro_f2")
    with pytest.raises(UserError, match="does not match"):
        paired_bootstrap(y, p, p[:, :5])
    t, q = _attribute_data(n=20)
    with pytest.raises(UserError, match="unknown attribute metric"):
        paired_bootstrap_ccc(t, q, q, metric="ccc_arousl")
    with pytest.raises(UserError, match="n_resamples"):
        bootstrap_ci(y, p, n_resamples=0)
    with pytest.raises(UserError, match="confidence"):
        bootstrap_ci(y, p, confidence=1.0)


@pytest.mark.parametrize("kind", ["student", "welch", "paired"])
def test_t_test_matches_scipy(kind: str) -> None:
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.6, 0.02, 25), rng.normal(0.59, 0.04, 25)
    if kind == "paired":
        expected = scipy_stats.ttest_rel(a, b)
    else:
        expected = scipy_stats.ttest_ind(a, b, equal_var=kind == "student")
    assert t_test(a, b, kind) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


def test_t_test_validation() -> None:
    with pytest.raises(UserError, match="unknown t-test kind"):
        t_test([1, 2], [3, 4], kind="wilcoxon")
    with pytest.raises(UserError, match="equal-length"):
        t_test([1, 2, 3], [3, 4], kind="paired")
    with pytest.raises(UserError, match="at least 2"):
        t_test([1], [3, 4])


def test_holm_hand_example() -> None:
    # sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 = 0.04 → running max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    assert holm([]).shape == (0,)
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        holm([0.2, 1.2])


def test_subset_split_is_deterministic_partition() -> None:
    subsets = subset_indices(103, 5, seed=0)
    assert sorted(len(s) for s in subsets) == [20, 20, 21, 21, 21]
    np.testing.assert_array_equal(np.sort(np.concatenate(subsets)), np.arange(103))
    assert all(np.array_equal(a, b) for a, b in zip(subsets, subset_indices(103, 5, seed=0)))
    with pytest.raises(UserError, match="cannot split"):
        subset_indices(3, 5)


def test_subset_and_protocol_points() -> None:
    t, _ = _attribute_data(n=100)
    points = subset_points(t, t * 0.8, n_subsets=5)
    assert points.shape == (5, 3)
    first = subset_indices(100, 5)[0]
    np.testing.assert_allclose(points[0], ccc(t[first], t[first] * 0.8))
    runs = [(t, t + np.random.default_rng(s).normal(0, 0.5, t.shape)) for s in range(5)]
    assert protocol_points(runs).shape == (25, 3)
    f1_points = subset_points(*_classification_data(), score=lambda y, p: classification_scores(y, p)["macro_f1"])
    assert f1_points.shape == (5,)
    with pytest.raises(UserError, match="different test labels"):
        protocol_points([runs[0], (t[::-1], t)])


def test_significance_markers() -> None:
    rng = np.random.default_rng(12)
    system = rng.normal(0.62, 0.01, 25)
    weak = rng.normal(0.58, 0.01, 25)
    same = system + rng.normal(0, 0.001, 25)
    assert significance_markers(system, [weak, weak]) == "*†"
    assert significance_markers(system, [weak, same]) == "*"
    assert significance_markers(weak, [system, system]) == ""  # significant, but worse
    weak_twin = weak + rng.normal(0, 0.001, 25)
    assert significance_markers(weak, [system, weak_twin], higher_is_better=False) == "*"
    assert significance_markers(system, [weak, weak, weak], markers=("a", "b", "c"), holm_correction=True) == "abc"
    with pytest.raises(UserError, match="markers"):
        significance_markers(system, [weak, weak, weak])


def test_speed_measure_agrees() -> None:
    result = measure(n_clips=200, n_classes=6, n_resamples=40, loop_resamples=4)
    assert result["agree"] and result["loop_resamples_timed"] == 4
    assert result["speedup"] > 0
