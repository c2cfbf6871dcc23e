"""Rankings that survive retraining: the seed-aware paired test has the right size (checked by simulation), its
intervals agree with its stars, every pair of ranked models is one Holm family from which stars, rank intervals and
groups are read, and a one-seed run marks the gaps that the known retraining spread could produce."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from avbench.errors import UserError
from avbench.leaderboards.schema import Entry, ModelInfo, Protocol, MetricValue, write_entry
from avbench.leaderboards.spread import board_noise, known_spread
from avbench.leaderboards.reverify import Agreement, tolerance
from avbench.scoring.noise import noise_parts
from avbench.scoring.null_size import MEASURED, REGIMES, rejection_rates
from avbench.scoring.ranking import SEED_AWARE, rank_text
from avbench.scoring.significance import ALPHA
from avbench.scoring.stats import holm, holm_levels, probability_of_improvement, seed_interval, seed_paired_test
from avbench.scoring.summary import Curve, Point, summarise


@pytest.mark.parametrize("regime", REGIMES, ids=[r.name for r in REGIMES])
def test_null_simulation_size_is_right_for_2_3_5_and_10_seeds(regime) -> None:
    """Equal expected scores: the seed-aware test rejects 3–7 % of the time at α = 0.05 whatever dominates the
    noise (3,000 simulated model pairs per cell; a rate's standard error is about 0.004)."""
    for n_seeds in (2, 3, 5, 10):
        rate = rejection_rates(regime, n_seeds, trials=3000, n_clips=100, n_resamples=100, hierarchical=False)
        assert 0.03 <= rate["seed-aware"] <= 0.07, (regime.name, n_seeds, rate)


def test_a_single_seed_star_covers_the_test_set_only_and_more_seeds_find_real_gaps() -> None:
    """What the README says: with one seed, retraining noise makes 'significant' gaps out of nothing, which the
    earlier hierarchical bootstrap also did with two seeds; the seed-aware test still finds a real gap of 0.03."""
    seed_noise = REGIMES[0]
    one = rejection_rates(seed_noise, 1, trials=1000, n_clips=100, n_resamples=100)
    two = rejection_rates(seed_noise, 2, trials=1000, n_clips=100, n_resamples=100)
    assert one["seed-aware"] > 0.3 and two["hierarchical"] > 0.2 and two["seed-aware"] < 0.07
    power = rejection_rates(REGIMES[2], 5, trials=1000, n_clips=100, n_resamples=100, effect=0.03, hierarchical=False)
    assert power["seed-aware"] > 0.6


def test_noise_parts_recover_the_sources_of_a_simulated_board() -> None:
    """20 models × 5 seeds on one test set of 300 clips with known SDs of the three sources (as the null simulation
    draws them): the measured parts come back within 20 %, and √(seed² + seed×clip²) is the between-seed SD."""
    rng = np.random.default_rng(3)
    n_models, n_seeds, n_clips, n_boot = 20, 5, 300, 400
    seed_sd, clip_sd, interaction_sd = 0.010, 0.005, 0.006
    scale = np.sqrt(n_clips)
    values = (rng.standard_normal((1, 1, n_clips)) * 0.3 + rng.standard_normal((n_models, 1, n_clips)) * clip_sd * scale
              + rng.standard_normal((n_models, n_seeds, n_clips)) * interaction_sd * scale
              + rng.standard_normal((n_models, n_seeds, 1)) * seed_sd)
    counts = np.stack([np.bincount(rng.integers(0, n_clips, n_clips), minlength=n_clips) for _ in range(n_boot)])
    parts = noise_parts(values.mean(-1), values @ (counts.T / n_clips))
    assert parts.seed == pytest.approx(seed_sd, rel=0.2) and parts.clip == pytest.approx(clip_sd, rel=0.2)
    assert parts.interaction == pytest.approx(interaction_sd, rel=0.2)
    assert parts.between_seeds ** 2 == pytest.approx(parts.seed ** 2 + parts.interaction ** 2)
    with pytest.raises(ValueError):
        noise_parts(values.mean(-1)[:1], (values @ (counts.T / n_clips))[:1])


@pytest.mark.parametrize("task, regime", [("emotion", MEASURED[0]), ("attributes", MEASURED[1])],
                         ids=["audio-visual", "audio-text"])
def test_the_default_run_regimes_are_the_shipped_five_seed_board(task: str, regime) -> None:
    """The null simulation's "default run" regimes are measured, not remembered: they equal (to 4 decimals) the noise
    parts of the shipped verified five-seed board under markov; regenerate the entries, then update them."""
    parts = board_noise("synthetic", task, "markov")
    assert parts is not None and parts.seeds == 5
    assert (regime.seed, regime.clip, regime.interaction) == (round(parts.seed, 4), round(parts.clip, 4),
                                                              round(parts.interaction, 4))


def test_interval_excludes_zero_exactly_when_p_is_below_the_level() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        n_a, n_b = rng.integers(1, 6, size=2)
        shared = rng.normal(0, 0.01, 150)
        a = rng.normal(0, 0.01, (n_a, 1)) + shared + rng.normal(0, 0.005, (n_a, 150))
        b = rng.normal(rng.normal(0, 0.01), 0.01, (n_b, 1)) + shared + rng.normal(0, 0.005, (n_b, 150))
        difference, low, high, p = seed_paired_test(a, b)
        assert low <= difference <= high and (p < ALPHA) == (low > 0 or high < 0)
    with pytest.raises(UserError, match="same clip resamples"):
        seed_paired_test(np.zeros((2, 10)), np.zeros((2, 11)))
    with pytest.raises(UserError, match="one score per seed"):
        seed_paired_test(np.zeros((2, 10)), np.zeros((2, 10)), point_a=np.zeros(3))


def test_one_seed_interval_is_the_clip_interval_and_several_widen_it() -> None:
    rng = np.random.default_rng(2)
    clips = rng.normal(0.6, 0.01, 400)
    mean, low, high = seed_interval(clips, [0.6])
    assert mean == 0.6 and (low, high) == pytest.approx(tuple(np.quantile(clips, [0.025, 0.975])))
    seeds = clips + np.array([[-0.03], [0.0], [0.03]])
    _, low3, high3 = seed_interval(seeds, [0.57, 0.60, 0.63])
    assert high3 - low3 > 2 * (high - low)  # retraining spread 0.03 dominates the clip interval


def test_holm_levels_agree_with_holm() -> None:
    rng = np.random.default_rng(3)
    for _ in range(500):
        p = rng.uniform(0, 0.08, rng.integers(1, 15)) ** rng.uniform(0.5, 3)
        assert np.array_equal(p < holm_levels(p), holm(p) < ALPHA)


def test_probability_of_improvement_counts_seed_pairs_on_shared_resamples() -> None:
    a = np.array([[1.0, 0.0, 2.0], [3.0, 3.0, 3.0]])
    b = np.array([[2.0, 0.0, 1.0]])
    # resample 0: 1 < 2, 3 > 2; resample 1: tie, 3 > 0; resample 2: 2 > 1, 3 > 1
    assert probability_of_improvement(a, b) == pytest.approx((1 + 1.5 + 2) / 6)
    assert probability_of_improvement(a, b, higher_is_better=False) == pytest.approx((1 + 0.5 + 0) / 6)


def _curves(means: dict[str, float], seed_sd: float, n_seeds: int, seed: int = 0) -> list[Curve]:
    """A clean-board curve per model: n_seeds seeds around its mean on 300 shared clip resamples."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 0.004, 300)
    curves = []
    for name, mean in means.items():
        offsets = rng.normal(0, seed_sd, n_seeds) if n_seeds > 1 else np.zeros(1)
        resampled = mean + offsets[:, None] + shared + rng.normal(0, 0.003, (n_seeds, 300))
        values = mean + offsets
        curves.append(Curve(name, [Point("none", 0.0, float(values.mean()))], None, {"none": resampled},
                            pairing="run", seed_values={"none": values}))
    return curves


def test_stars_intervals_rank_intervals_and_groups_tell_one_story() -> None:
    means = {"a": 0.70, "b": 0.698, "c": 0.69, "d": 0.64, "e": 0.639, "f": 0.55}
    summaries = sorted(summarise(_curves(means, 0.004, 5), "macro_f1", None, True, None), key=lambda s: s.rank)
    assert [s.model for s in summaries[:3]] == ["a", "b", "c"] or summaries[0].model in "abc"
    for s in summaries[1:]:
        assert s.test == SEED_AWARE and s.seeds == 5
        low, high = s.diff_ci
        assert s.significant == (high < 0 or low > 0)  # starred exactly when the interval excludes zero
        assert not s.significant or s.rank_interval[0] >= 2  # a starred model cannot be first
        assert 0.0 <= s.p_improve <= 1.0
    top = summaries[0]
    assert top.rank_interval[0] == 1 and top.group == "A" and top.p_improve is None
    assert [s.group for s in summaries] == sorted(s.group for s in summaries)  # groups follow the ranking
    far = next(s for s in summaries if s.model == "f")
    assert far.significant and far.rank_interval == (6, 6) and far.group != "A" and far.p_improve == 0.0
    assert all(s.rank_interval[0] <= s.rank <= s.rank_interval[1] for s in summaries)
    assert rank_text(far.rank_interval) == "6" and rank_text((2, 4)) == "2–4" and rank_text(None) == "–"


def _entry(label: str, per_seed: list[float], dataset: str = "synthetic") -> Entry:
    """A verified entry that stores its seeds' clean scores and markov AUCs (what the spread is read from)."""
    resampled = [[v] * 4 for v in per_seed]
    return Entry("verified", ModelInfo(label, label),
                 Protocol("avbench-fixture", dataset, "emotion", seeds=list(range(len(per_seed)))),
                 [MetricValue("markov", "pL0-pN1", 0.0, "macro_f1", float(np.mean(per_seed)))],
                 bootstrap={"seed": 0, "n_resamples": 4,
                            "scores": {"markov": {"auc": resampled, "seeds": per_seed},
                                       "clean": {"clean": resampled, "seeds": per_seed}}})


def test_retraining_spread_is_read_from_multi_seed_entries_with_a_fallback(tmp_path: Path) -> None:
    write_entry(_entry("raver", [0.60, 0.62, 0.64]), tmp_path)
    write_entry(_entry("tlstm", [0.70, 0.70, 0.71]), tmp_path)
    write_entry(_entry("ser", [0.5]), tmp_path)  # one seed: no spread
    write_entry(_entry("mult", [0.1, 0.9], dataset="crema-d"), tmp_path)  # another dataset
    found = known_spread("synthetic", "emotion", "markov", ["raver", "raver[n_ctx=16]", "ser"], tmp_path)
    assert found["raver"] == pytest.approx(0.02) and found["raver[n_ctx=16]"] == pytest.approx(0.02)
    assert found["ser"] == pytest.approx(np.median([0.02, np.std([0.70, 0.70, 0.71], ddof=1)]))  # fallback: median
    assert known_spread("synthetic", "attributes", "markov", ["raver"], tmp_path) == {}
    assert known_spread("synthetic", "emotion", "markov", ["raver"], tmp_path / "absent") == {}


def test_one_seed_gaps_within_the_known_spread_are_marked(tmp_path: Path) -> None:
    write_entry(_entry("a", [0.60, 0.62, 0.64]), tmp_path)
    write_entry(_entry("b", [0.60, 0.62, 0.64]), tmp_path)
    spread = partial(known_spread, directory=tmp_path)
    curves = _curves({"a": 0.70, "b": 0.66, "c": 0.50}, 0.0, 1)  # a test-set-only star for b, and far for c
    sds = spread("synthetic", "emotion", "clean", [c.model for c in curves])
    summaries = {s.model: s for s in summarise(curves, "macro_f1", None, True, None, sds)}
    b, c = summaries["b"], summaries["c"]
    assert b.significant and b.seeds == 1
    assert b.retraining_noise == pytest.approx(1.959964 * np.hypot(0.02, 0.02), rel=1e-5) and b.within_noise
    assert c.significant and not c.within_noise  # 0.20 is beyond what retraining produces


def test_reverification_tolerance_is_the_entrys_seed_interval() -> None:
    scores = np.array([0.60, 0.62, 0.64])
    tol, basis = tolerance(scores, 3, None)
    assert tol == pytest.approx(4.302653 * 0.02 * np.sqrt(2 / 3), rel=1e-5) and "3 seeds" in basis
    assert Agreement("markov", 0.62, 3, 0.62 + 0.9 * tol, 3, tol, basis).agrees
    assert not Agreement("markov", 0.62, 3, 0.62 + 1.1 * tol, 3, tol, basis).agrees
    assert tolerance(np.array([0.6]), 1, 0.01)[0] == pytest.approx(1.959964 * 0.01 * np.sqrt(2), rel=1e-5)
    assert tolerance(np.array([0.6]), 1, None)[0] < 1e-5  # one seed, nothing known: reproduce it
