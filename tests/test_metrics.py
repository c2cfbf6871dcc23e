"""Classification and attribute scores: cross-checked against scikit-learn and by hand."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score

from avbench.errors import UserError
from avbench.scoring.metrics import (
    ATTRIBUTE_METRICS,
    CLASSIFICATION_METRICS,
    PER_CLASS_F1,
    attribute_scores,
    binary_targets,
    ccc,
    classification_scores,
    flatten_scores,
    reliability_curve,
)

EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")


def _vote_shares(rng: np.random.Generator, n: int, c: int, raters: int = 8) -> np.ndarray:
    return np.stack([rng.multinomial(raters, rng.dirichlet(np.full(c, 0.6))) for _ in range(n)]) / raters


def _sklearn_scores(target: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    return {
        "macro_f1": f1_score(target, predicted, average="macro", zero_division=0),
        "micro_f1": f1_score(target, predicted, average="micro", zero_division=0),
        "weighted_f1": f1_score(target, predicted, average="weighted", zero_division=0),
        "sample_precision": precision_score(target, predicted, average="samples", zero_division=0),
        "per_class_f1": f1_score(target, predicted, average=None, zero_division=0),
    }


def _assert_matches_sklearn(y_true: np.ndarray, probs: np.ndarray, threshold: float | None = None) -> None:
    c = probs.shape[1]
    target = (y_true > 1 / c).astype(int)
    expected = _sklearn_scores(target, (probs > (1 / c if threshold is None else threshold)).astype(int))
    got = classification_scores(y_true, probs, threshold)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("seed", range(5))
def test_random_cases_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shares = _vote_shares(rng, 60, 6)
    probs = np.clip(shares + rng.normal(0, 0.3, shares.shape), 0, 1)
    _assert_matches_sklearn(shares, probs)
    _assert_matches_sklearn(shares, probs, threshold=0.4)


def test_class_never_present_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    shares = _vote_shares(rng, 40, 4)
    shares[:, 3] = 0.0  # emotion 3 never in any label
    probs = rng.uniform(0, 1, shares.shape)
    probs[:, 3] = 0.0  # ... and never predicted
    _assert_matches_sklearn(shares, probs)
    assert classification_scores(shares, probs)["per_class_f1"][3] == 0.0


def test_nothing_predicted_matches_sklearn() -> None:
    rng = np.random.default_rng(2)
    shares = _vote_shares(rng, 30, 6)
    probs = np.zeros_like(shares)
    _assert_matches_sklearn(shares, probs)
    scores = classification_scores(shares, probs)
    assert scores["macro_f1"] == scores["micro_f1"] == scores["sample_precision"] == 0.0


def test_keys_are_the_exported_names() -> None:
    rng = np.random.default_rng(3)
    scores = classification_scores(_vote_shares(rng, 10, 6), rng.uniform(0, 1, (10, 6)))
    assert list(scores) == [*CLASSIFICATION_METRICS, PER_CLASS_F1]
    assert all(isinstance(scores[key], float) for key in CLASSIFICATION_METRICS)


def test_raver_table1_label_processing() -> None:
    votes = np.array([[6, 0, 0, 0, 0, 2]], dtype=float)  # A×6, S×2 (order A, D, F, H, N, S)
    shares = votes / votes.sum()
    np.testing.assert_allclose(shares[0, [0, 5]], [0.75, 0.25])
    reordered = shares[:, [0, 5, 1, 2, 3, 4]]  # the paper's column order (A, S, D, F, H, N)
    np.testing.assert_array_equal(binary_targets(reordered), [[True, True, False, False, False, False]])
    binary = np.array([[1, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(binary_targets(binary), binary.astype(bool))


def test_binary_and_share_labels_give_the_same_scores() -> None:
    rng = np.random.default_rng(4)
    shares = _vote_shares(rng, 25, 6)
    probs = rng.uniform(0, 1, shares.shape)
    from_shares = classification_scores(shares, probs)
    from_binary = classification_scores((shares > 1 / 6).astype(float), probs)
    from_bool = classification_scores(shares > 1 / 6, probs)
    for key in CLASSIFICATION_METRICS:
        assert from_shares[key] == from_binary[key] == from_bool[key]


def test_brier_by_hand() -> None:
    shares = np.array([[0.75, 0.25, 0.0], [0.0, 0.0, 1.0]])  # targets (1, 0, 0) and (0, 0, 1) at 1/3
    probs = np.array([[0.9, 0.2, 0.1], [0.3, 0.0, 0.6]])
    expected = (0.1**2 + 0.2**2 + 0.1**2 + 0.3**2 + 0.0 + 0.4**2) / 6
    assert classification_scores(shares, probs)["brier"] == pytest.approx(expected, abs=1e-15)


def test_ece_by_hand() -> None:
    # 4 pairs; with 15 bins 0.05 -> bin 0, 0.95 and 1.0 -> bin 14, 0.5 -> bin 7.
    y = np.array([[1, 0], [1, 1]], dtype=bool)
    probs = np.array([[0.95, 0.05], [1.0, 0.5]])
    # bin 0: p 0.05, y 0 -> |0.05|; bin 7: p 0.5, y 1 -> |0.5|; bin 14: p {0.95, 1.0}, y {1, 1} -> |1.95 - 2|
    expected = (0.05 + 0.5 + 0.05) / 4
    assert classification_scores(y, probs)["ece"] == pytest.approx(expected, abs=1e-15)


def test_ece_agrees_with_reliability_curve() -> None:
    rng = np.random.default_rng(5)
    shares = _vote_shares(rng, 80, 6)
    probs = rng.uniform(0, 1, shares.shape)
    curve = reliability_curve(shares, probs)
    filled = curve.count > 0
    expected = np.sum(curve.count[filled] * np.abs(curve.confidence[filled] - curve.accuracy[filled])) / probs.size
    assert classification_scores(shares, probs)["ece"] == pytest.approx(expected, abs=1e-12)


def test_perfect_probabilities_score_perfectly() -> None:
    target = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 1]], dtype=float)
    scores = classification_scores(target, target)
    assert scores["brier"] == scores["ece"] == 0.0
    assert scores["macro_f1"] == scores["micro_f1"] == scores["sample_precision"] == 1.0


def test_reliability_curve_bins() -> None:
    y = np.array([[1, 0], [0, 1]], dtype=bool)
    probs = np.array([[0.0, 0.5], [1.0, 0.75]])
    curve = reliability_curve(y, probs, n_bins=2)
    np.testing.assert_allclose(curve.edges, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(curve.count, [2, 2])  # 0 and 0.5 in (.., 0.5]; 0.75 and 1 in (0.5, 1]
    np.testing.assert_allclose(curve.confidence, [0.25, 0.875])
    np.testing.assert_allclose(curve.accuracy, [0.5, 0.5])
    sparse = reliability_curve(y, probs)
    assert sparse.count.sum() == 4 and np.isnan(sparse.confidence[1])


def test_ccc_matches_hand_formula() -> None:
    rng = np.random.default_rng(6)
    t = rng.normal(size=200)
    p = 0.6 * t + rng.normal(0.3, 0.5, size=200)
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    expected = 2 * cov / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
    assert ccc(t, p) == pytest.approx(expected, rel=1e-12)
    assert ccc(t, t) == pytest.approx(1.0)
    centred = t - t.mean()
    assert ccc(centred, -centred) == pytest.approx(-1.0)
    assert ccc(t, t + 1.0) < 1.0  # shifted predictions are correlated but not concordant


def test_ccc_columnwise_and_attribute_scores() -> None:
    rng = np.random.default_rng(7)
    t = rng.normal(size=(100, 3))
    p = t + rng.normal(0, [0.2, 0.5, 1.0], size=(100, 3))
    per_column = ccc(t, p)
    assert per_column.shape == (3,)
    np.testing.assert_allclose(per_column, [ccc(t[:, k], p[:, k]) for k in range(3)], rtol=1e-12)
    scores = attribute_scores(t, p)
    assert list(scores) == list(ATTRIBUTE_METRICS)
    assert scores["ccc_arousal"] == pytest.approx(per_column[0])
    assert scores["ccc_mean"] == pytest.approx(per_column.mean())
    renamed = attribute_scores(t, p, names=("arousal", "dominance", "valence"))
    assert renamed["ccc_dominance"] == pytest.approx(per_column[1])


def test_flatten_scores_point_and_interval() -> None:
    rng = np.random.default_rng(8)
    scores = classification_scores(_vote_shares(rng, 20, 6), rng.uniform(0, 1, (20, 6)))
    flat = flatten_scores(scores, EMOTIONS)
    assert flat["f1_anger"] == scores["per_class_f1"][0] and flat["f1_sadness"] == scores["per_class_f1"][5]
    assert PER_CLASS_F1 not in flat and flat["macro_f1"] == scores["macro_f1"]
    interval = {"macro_f1": (0.5, 0.4, 0.6), PER_CLASS_F1: (np.arange(6.0), np.zeros(6), np.ones(6))}
    flat_interval = flatten_scores(interval, EMOTIONS)
    assert flat_interval["f1_fear"] == (2.0, 0.0, 1.0) and flat_interval["macro_f1"] == (0.5, 0.4, 0.6)
    with pytest.raises(UserError, match="6 emotions"):
        flatten_scores({PER_CLASS_F1: np.zeros(4)}, EMOTIONS)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        (np.zeros((4, 3)), np.zeros((4, 2)), "does not match"),
        (np.zeros(4), np.zeros(4), r"\(clips, classes\)"),
        (np.zeros((4, 3)), np.full((4, 3), np.nan), "NaN or inf"),
        (np.zeros((4, 3)), np.full((4, 3), np.inf), "NaN or inf"),
        (np.zeros((4, 3)), np.full((4, 3), 1.5), r"\[0, 1\]"),
        (np.zeros((4, 3)), np.full((4, 3), -0.1), r"\[0, 1\]"),
        (np.full((4, 3), 2.0), np.zeros((4, 3)), r"labels must lie"),
        (np.zeros((4, 1)), np.zeros((4, 1)), "at least 2 classes"),
        (np.zeros((0, 3)), np.zeros((0, 3)), "no clips"),
    ],
)
def test_classification_validation(y: np.ndarray, p: np.ndarray, message: str) -> None:
    with pytest.raises(UserError, match=message):
        classification_scores(y, p)


def test_attribute_validation() -> None:
    with pytest.raises(UserError, match="does not match"):
        ccc(np.zeros(5), np.zeros(4))
    with pytest.raises(UserError, match="NaN or inf"):
        ccc(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(UserError, match="both constant"):
        ccc(np.ones(5), np.ones(5))
    with pytest.raises(UserError, match=r"\(clips, 3\)"):
        attribute_scores(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(UserError, match="threshold"):
        classification_scores(np.zeros((3, 2)), np.zeros((3, 2)), threshold=1.5)
