"""The one summariser: summary.csv and the leaderboard rank a run identically (every corruption family, the
categorical one included), categorical corruptions are compared over shared conditions only, several seeds widen
the paired test the way the seed t intervals are widened and travel into the entries, a one-seed run marks the gaps
within the entries' retraining spread, and ``avbench verify`` judges a re-run by the entry's seed interval."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.leaderboards.board import build_boards
from avbench.leaderboards.commands import render
from avbench.leaderboards.reverify import find_entry, reverify
from avbench.leaderboards.schema import load_entries
from avbench.leaderboards.spread import known_spread
from avbench.scoring.ranking import SEED_AWARE
from avbench.scoring.summary import Curve, Point, score_run, summarise, summary_frame

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


def test_two_seeds_travel_from_the_run_to_the_entries_and_the_board(run_and_entries: tuple[Path, Path]) -> None:
    """summary.csv says how many seeds, gives rank intervals and groups, and stars exactly where the difference's
    interval excludes zero; the entries keep both seeds' resampled scores and the board shows the seed count."""
    run, entries = run_and_entries
    summary = pd.read_csv(run / "summary.csv", keep_default_na=False)
    assert list(summary.columns[-12:]) == ["seeds", "score_low", "score_high", "difference", "diff_low", "diff_high",
                                           "rank_low", "rank_high", "p_improve", "group", "retraining_noise",
                                           "within_noise"]
    assert set(summary["seeds"]) == {2} and set(summary["retraining_noise"]) == {""}  # two seeds: no mark needed
    for line in summary.itertuples():
        assert int(line.rank_low) <= int(line.rank) <= int(line.rank_high)
        if line.diff_low != "":
            assert (line.sig == "*") == (float(line.diff_high) < 0 or float(line.diff_low) > 0)
    entry = next(e for e in load_entries(entries) if e.model.label == "ser")
    assert entry.protocol.seeds == [0, 1] and np.shape(entry.bootstrap["scores"]["markov"]["auc"]) == (2, 100)
    assert "| Seeds |" in render("md", entries=entries) and "seed-aware paired t" in render("md", entries=entries)


def test_a_one_seed_run_marks_gaps_within_the_spread_of_multi_seed_entries(run_and_entries: tuple[Path, Path]) -> None:
    """Seed 0 of the run alone covers the test set only; the two-seed entries give the retraining spread."""
    run, entries = run_and_entries
    scores = score_run(run, "synthetic", MODELS.split(","), [0], [CORRUPTIONS.get("markov")], 100, 0)
    summary = summary_frame(scores, partial(known_spread, directory=entries))
    second = summary[summary["rank"] == 2].iloc[0]
    assert second["seeds"] == 1 and second["retraining_noise"] != ""
    assert (second["within_noise"] == "yes") == (abs(second["difference"]) < second["retraining_noise"])
    assert set(summary_frame(scores)["retraining_noise"]) == {""}  # nothing known: nothing marked


def test_verify_confirms_an_entry_and_refuses_one_outside_its_seed_interval(
        run_and_entries: tuple[Path, Path], tmp_path: Path, session_cache: Path) -> None:
    """A re-run on this machine agrees with the entry within its seed interval; an entry whose numbers were moved
    by more than retraining explains is not confirmed."""
    _, entries = run_and_entries
    env = {**os.environ, "AVBENCH_CACHE": str(session_cache), "COLUMNS": "200"}
    verify = [sys.executable, "-m", "avbench", "verify", "ser", "--entries", str(entries), "--corruption", "markov",
              "--out", str(tmp_path / "rerun")]
    result = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "confirmed" in result.stdout and "seed interval of the entry's 2 seeds" in result.stdout
    path = next(entries.glob("ser--*.json"))
    data = json.loads(path.read_text())
    for metric in data["metrics"]:
        if metric["corruption"] == "markov" and metric["metric"] == "macro_f1":
            metric.update({key: metric[key] + 0.2 for key in ("value", "ci_low", "ci_high")})
    moved = tmp_path / "moved" / path.name
    moved.parent.mkdir()
    moved.write_text(json.dumps(data))
    judged = {a.board: a for a in reverify(find_entry(str(moved)), tmp_path / "rerun", corruptions=["markov"])}
    assert judged["clean"].agrees and not judged["markov"].agrees  # the same re-run, now 0.2 away from the entry


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
