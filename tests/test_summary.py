"""The one summariser: summary.csv and the leaderboard rank a run identically (every corruption family, the
categorical one included), categorical corruptions are compared over shared conditions only, and several seeds
widen the paired test the way the seed t intervals are widened."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.leaderboards.board import build_boards
from avbench.leaderboards.schema import load_entries
from avbench.scoring.ranking import SEED_AWARE
from avbench.scoring.summary import Curve, Point, summarise

MODELS = "late-fusion,ser"  # two modality sets, so categorical boards compare over a shared subset
FAMILIES = ("random-audio", "markov", "async", "word_drop", "modality")  # one per corruption module, categorical too


@pytest.fixture(scope="module")
def run_and_entries(tmp_path_factory, session_cache, synthetic) -> tuple[Path, Path]:
    """A two-seed run of two models under every corruption family through the real CLI, then submitted."""
    root = tmp_path_factory.mktemp("agree")
    env = {**os.environ, "AVBENCH_CACHE": str(session_cache), "COLUMNS": "200"}
    run = [sys.executable, "-m", "avbench", "run", "--models", MODELS, "--corruption", ",".join(FAMILIES),
           "--seeds", "2", "--epochs", "1", "--bootstrap", "100", "--out", str(root / "run")]
    result = subprocess.run(run, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    # the categorical table says what it compares (its title may wrap)
    assert "the conditions that apply to every model" in " ".join(result.stdout.split())
    submit = [sys.executable, "-m", "avbench", "submit", str(root / "run"), "--entries", str(root / "entries")]
    result = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return root / "run", root / "entries"


def test_summary_and_leaderboard_rank_a_run_identically(run_and_entries: tuple[Path, Path]) -> None:
    run, entries = run_and_entries
    summary = pd.read_csv(run / "summary.csv", keep_default_na=False)
    boards = {b.corruption: b for b in build_boards(load_entries(entries), dataset="synthetic")}
    families = set(summary["corruption"])
    assert families == set(FAMILIES) and any(CORRUPTIONS.get(name).categorical for name in families)
    for corruption, group in summary.groupby("corruption"):
        board = boards[corruption]
        from_summary = list(group.sort_values("rank")["model"])
        from_board = [row.entry.model.label for row in board.rows if row.rank is not None]
        assert from_board == from_summary, corruption
        for row in board.rows:
            line = group[group["model"] == row.entry.model.label].iloc[0]
            assert row.score == pytest.approx(float(line["score"]), abs=1e-5)
            assert "+".join(row.compared_over) == line["compared_over"]
            if line["p_holm"] != "":
                assert row.p_holm == pytest.approx(float(line["p_holm"]), abs=0.05)


def test_categorical_run_is_compared_over_the_conditions_both_models_use(run_and_entries: tuple[Path, Path]) -> None:
    run, _ = run_and_entries
    summary = pd.read_csv(run / "summary.csv", keep_default_na=False)
    modality = summary[summary["corruption"] == "modality"]
    assert set(modality["compared_over"]) == {"none+audio"}  # ser reads no video, and neither model reads text
    results = pd.read_csv(run / "results.csv", dtype={"seed": str})
    for line in modality.itertuples():
        values = results[(results.model == line.model) & (results.seed == "mean") & (results.corruption == "modality")
                         & (results.metric == line.metric)].set_index("level")["value"]
        assert float(line.score) == pytest.approx(values[["none", "audio"]].mean())


def _curve(model: str, values: dict[str, float], modalities: tuple[str, ...]) -> Curve:
    xs = {"none": 0.0, "audio": 1.0, "video": 2.0, "text": 3.0}
    return Curve(model, [Point(level, xs[level], v) for level, v in values.items()], modalities)


def test_categorical_shared_set_is_the_intersection_of_what_applies() -> None:
    av = _curve("av", {"none": 0.8, "audio": 0.5, "video": 0.6, "text": 0.8}, ("audio", "video"))
    ser = _curve("ser", {"none": 0.7, "audio": 0.1, "video": 0.7, "text": 0.7}, ("audio",))
    both = summarise([av, ser], "macro_f1", "modality", True, None)
    assert [s.compared_over for s in both] == [("none", "audio"), ("none", "audio")]
    assert both[0].score == pytest.approx(0.65) and both[1].score == pytest.approx(0.4)
    assert both[0].auc == pytest.approx((0.8 + 0.5 + 0.6) / 3)  # own conditions: the text level does not apply
    assert both[1].auc == pytest.approx((0.7 + 0.1) / 2) and both[1].worst.level == "audio"
    alone = summarise([av], "macro_f1", "modality", True, None)
    assert alone[0].compared_over == ("none", "audio", "video")


def test_several_seeds_widen_the_paired_test_like_the_t_interval() -> None:
    """Seed-to-seed spread with no clip noise: averaging per-seed distributions makes any gap 'significant';
    the seed-aware test does not, just as a t-test over the seeds would not."""
    n_resamples = 400
    seeds_a, seeds_b = np.array([0.60, 0.72, 0.66]), np.array([0.64, 0.70, 0.58])
    per_seed_a = np.repeat(seeds_a[:, None], n_resamples, axis=1)  # (S, B)
    per_seed_b = np.repeat(seeds_b[:, None], n_resamples, axis=1)
    naive = per_seed_a.mean(0) - per_seed_b.mean(0)
    assert np.all(naive > 0)  # a test of the seed mean on clip resamples alone: p = 0
    curves = [Curve(name, [Point("none", 0.0, float(v.mean()))], None, {"none": d}, pairing="run",
                    seed_values={"none": v}) for name, v, d in (("a", seeds_a, per_seed_a), ("b", seeds_b, per_seed_b))]
    a, b = summarise(curves, "macro_f1", None, True, None)
    assert a.rank == 1 and b.p_value > 0.2 and b.test == SEED_AWARE and a.seeds == b.seeds == 3
    assert b.rank_interval == (1, 2) and a.group == b.group == "A"
