"""Training protocols: the registry, what each does to the training batches (and nothing at evaluation), checkpoints
keyed by what a protocol does, a run with ``--protocols`` end to end, its effects and boards."""
from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from avbench.corruptions import get as get_corruption
from avbench.corruptions import masks_for
from avbench.data.batching import Collator
from avbench.errors import UserError
from avbench.execution import checkpoints
from avbench.execution.training import TrainSpec, checkpoint_dir
from avbench.models import RECIPE, format_label, label_training, parse_label, split_training
from avbench.models import get as build
from avbench.protocols import REGISTRY, Protocol, get, parse_selection
from avbench.protocols.augment import Augmentation, BatchLoss, drop_one_modality
from avbench.rundir import predictions
from avbench.scoring.training_effects import paired_effect, variance_shares

GRID = ["--models", "late-fusion,raver", "--protocols", "recipe,clean", "--corruption", "modality",
        "--epochs", "1", "--bootstrap", "100"]


# -- registry and labels -------------------------------------------------------------------------------------------
def test_registry_names_and_selection() -> None:
    assert {"recipe", "clean", "modality-dropout", "frame-loss", "markov-loss"} <= set(REGISTRY.names())
    assert parse_selection("all")[:5] == ["recipe", "clean", "modality-dropout", "frame-loss", "markov-loss"]
    assert parse_selection(" clean, recipe ") == ["clean", "recipe"]
    with pytest.raises(UserError, match="did you mean 'clean'"):
        parse_selection("recipe,cleen")
    with pytest.raises(UserError, match="more than once"):
        parse_selection("clean,clean")
    with pytest.raises(UserError, match="two probabilities"):
        Protocol("bad", "", modality_dropout=(0.7, 0.7))


def test_a_plugin_protocol_is_looked_up_like_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    mine = Protocol("half-dropout", "audio zeroed half the time", modality_dropout=(0.5, 0.0))
    monkeypatch.setitem(REGISTRY._entries, "half-dropout", mine)
    assert get("half-dropout") is mine
    assert TrainSpec("raver", training="half-dropout").plan().dropout == (("audio", 0.5),)
    monkeypatch.setitem(REGISTRY._entries, "misnamed", mine)
    with pytest.raises(UserError, match="registered as an object named"):
        get("misnamed")


def test_labels_carry_the_protocol_and_read_back() -> None:
    assert format_label("raver") == format_label("raver", None, RECIPE) == "raver"
    label = format_label("raver", {"n_ctx": 16}, "clean")
    assert label == "raver[n_ctx=16]@clean" and TrainSpec("raver", overrides={"n_ctx": 16}, training="clean").label == label
    assert parse_label(label) == ("raver", {"n_ctx": 16}) and label_training(label) == "clean"
    assert split_training("raver[tag='a@b']") == ("raver[tag='a@b']", RECIPE)  # an @ inside a value is not a protocol


# -- what a protocol does to a model -----------------------------------------------------------------------------
def test_each_protocol_resolves_to_what_it_trains_with() -> None:
    def plan(model: str, protocol: str):
        return TrainSpec(model, training=protocol).plan()

    assert plan("raver", "recipe").dropout == (("audio", 0.2), ("video", 0.2))
    assert plan("raver", "modality-dropout") == plan("raver", "recipe")  # RAVER's recipe is the scheme itself
    assert plan("raver", "clean").dropout == () and plan("late-fusion", "clean") == plan("late-fusion", "recipe")
    assert plan("late-fusion", "modality-dropout").dropout == (("audio", 0.2), ("video", 0.2))
    assert plan("align-fw", "modality-dropout").dropout == (("audio", 0.2), ("text", 0.2))
    assert plan("ser", "modality-dropout") == plan("ser", "clean")  # nothing to drop its one modality for
    assert plan("align-multiscalew", "clean").regulariser_off and not plan("align-multiscalew", "recipe").regulariser_off
    assert not plan("align-fw", "clean").regulariser_off  # its chunks are fixed already: nothing to switch off
    assert plan("tlstm", "markov-loss").corruption == "markov" and plan("tlstm", "frame-loss").corruption == "random-all"


def test_checkpoints_are_keyed_by_what_the_protocol_does(synthetic) -> None:
    def where(model: str, protocol: str) -> Path:
        return checkpoint_dir(TrainSpec(model, training=protocol), synthetic)

    # the recipe keeps the key it had before protocols existed, so cached checkpoints and numbers stay as they were
    before = checkpoints.config_hash({"spec": {"model": "raver", "seed": 0, "config": "tiny", "task": None,
                                               "overrides": {}, "epochs": None}, "dataset": synthetic.fingerprint})
    assert where("raver", "recipe").name == f"raver-tiny-seed0-{before}"
    assert where("raver", "modality-dropout") == where("raver", "recipe")  # same training, one checkpoint
    assert where("late-fusion", "clean") == where("late-fusion", "recipe")
    keyed = {p: where("raver", p) for p in ("recipe", "clean", "frame-loss", "markov-loss")}
    assert len(set(keyed.values())) == 4
    assert keyed["clean"].name.startswith("raver-tiny-nomd-seed0-")
    assert keyed["markov-loss"].name.startswith("raver-tiny-nomd-loss-markov-seed0-")
    assert where("raver", "clean") != checkpoint_dir(TrainSpec("raver", seed=1, training="clean"), synthetic)


# -- training batches ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batches(synthetic) -> list:
    collator = Collator(synthetic, ("audio", "video"))
    train = synthetic.split_indices("train")
    return [collator.labelled(train[i : i + 16]) for i in range(0, 96, 16)]


def _augmented(batches: list, protocol: str, store, model: str = "raver", seed: int = 0) -> list:
    augment = Augmentation(TrainSpec(model, training=protocol).plan(), store, seed)
    rng = np.random.default_rng(seed)
    return [augment(item.batch, item.rows, rng) for item in batches]


def test_recipe_batches_are_those_of_the_recipe_code(batches, synthetic) -> None:
    rng = np.random.default_rng(0)
    expected = [drop_one_modality(item.batch, (("audio", 0.2), ("video", 0.2)), rng) for item in batches]
    for got, want in zip(_augmented(batches, "recipe", synthetic), expected):
        for m in want.masks:
            assert torch.equal(got.masks[m], want.masks[m]) and torch.equal(got.inputs[m], want.inputs[m])
    assert any(not b.masks["audio"].any() or not b.masks["video"].any() for b in expected)  # something dropped


def test_clean_leaves_batches_alone_and_batch_loss_masks_them_from_the_corruption(batches, synthetic) -> None:
    for got, clean in zip(_augmented(batches, "clean", synthetic), batches):
        assert got is clean.batch
    lossy = _augmented(batches, "frame-loss", synthetic)
    assert sum(int(b.masks["audio"].sum()) for b in lossy) < sum(int(i.batch.masks["audio"].sum()) for i in batches)
    for got, clean in zip(lossy, (item.batch for item in batches)):
        assert torch.equal(got.inputs["video"], clean.inputs["video"] * got.masks["video"][..., None])
        assert not (got.masks["audio"] & ~clean.masks["audio"]).any()  # only ANDed: padding never becomes received
    # the masks are the corruption's own, at the level drawn for the batch, reproducibly from the training seed
    timings = {int(i): synthetic.timing(int(i)) for i in synthetic.split_indices("train")}
    again = BatchLoss("random-all", timings, seed=0)
    assert torch.equal(again(batches[0].batch, batches[0].rows).masks["audio"], lossy[0].masks["audio"])
    label, mask_seed = again.draws[0]
    corruption = get_corruption("random-all")
    first = masks_for(corruption, corruption.level(label), timings[batches[0].rows[0]], mask_seed, ("audio", "video"))
    n = len(first["audio"])
    assert torch.equal(lossy[0].masks["audio"][0, :n],
                       torch.from_numpy(first["audio"]) & batches[0].batch.masks["audio"][0, :n])
    other = BatchLoss("random-all", timings, seed=1)
    other(batches[0].batch, batches[0].rows)
    assert other.draws[0] != again.draws[0]


def test_fixed_alignment_trains_on_the_evaluation_chunks(synthetic) -> None:
    collator = Collator(synthetic, ("audio", "text"))
    batch = collator(synthetic.split_indices("train")[:8])
    model = build("align-multiscalew").train()
    n_words = batch.lengths["text"].long().clamp(max=model.max_len - 1)
    torch.manual_seed(0)
    regularised = model.chunk_bounds(batch, n_words)
    model.regularise = False
    fixed = model.chunk_bounds(batch, n_words)
    evaluation = model.eval().chunk_bounds(batch, n_words)
    assert torch.equal(fixed.starts, evaluation.starts) and torch.equal(fixed.ends, evaluation.ends)
    assert not torch.equal(regularised.ends - regularised.starts, evaluation.ends - evaluation.starts)


# -- statistics ----------------------------------------------------------------------------------------------------
def test_paired_effect_is_the_seed_aware_test_of_the_differences() -> None:
    rng = np.random.default_rng(0)
    control = rng.normal(0.5, 0.02, size=(3, 400))
    same = paired_effect(0.0, control, control)
    assert (same.value, same.low, same.high, same.p) == (0.0, 0.0, 0.0, 1.0)
    shifted = paired_effect(0.03, control + 0.03 + rng.normal(0, 0.005, size=(3, 400)), control)
    assert shifted.low < 0.03 < shifted.high and shifted.p < 0.01


def test_paired_effect_false_positive_rate_by_simulation() -> None:
    """Two trainings with no true difference: per-seed effects vary between seeds (a training's luck) and clip
    resamples vary around them; the seed-aware interval should reject at about the nominal 5 %, not far above."""
    rng = np.random.default_rng(1)
    rejections = 0
    trials = 300
    for _ in range(trials):
        seeds = rng.normal(0.0, 0.01, size=(5, 1))  # each seed's true effect; their mean is the estimate's noise
        draws = seeds + rng.normal(0.0, 0.004, size=(5, 300))
        effect = paired_effect(float(seeds.mean()), draws, np.zeros_like(draws))
        rejections += effect.p < 0.05
    assert rejections / trials < 0.12


def test_variance_shares_split_architecture_from_training() -> None:
    rows = pd.DataFrame([[0.1, 0.1], [0.5, 0.5], [0.3, 0.3]], index=list("abc"), columns=["clean", "recipe"])
    assert variance_shares(rows).architecture == pytest.approx(1.0)
    columns = pd.DataFrame([[0.1, 0.4], [0.1, 0.4]], index=list("ab"), columns=["clean", "recipe"])
    assert variance_shares(columns).training == pytest.approx(1.0)
    assert variance_shares(columns.iloc[:1]) is None


# -- a run with protocols, end to end ------------------------------------------------------------------------------
def _run_here(out: Path, *grid: str) -> Path:
    """``avbench run`` in this process (one worker: units run inline, no start-up cost); its stdout kept."""
    from avbench.cli import main

    printed = io.StringIO()
    argv, sys.argv = sys.argv, ["avbench", "run", *grid, "--out", str(out), "--workers", "1"]
    try:
        with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as exited:
            main()
    finally:
        sys.argv = argv
    assert exited.value.code in (0, None)
    (out / "stdout.txt").write_text(printed.getvalue())
    return out


@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory, session_cache, synthetic) -> Path:
    return _run_here(tmp_path_factory.mktemp("protocols") / "run", *GRID)


def test_a_protocol_changes_nothing_at_evaluation(protocol_run: Path) -> None:
    def load(label: str) -> dict:
        return predictions.load(predictions.path(protocol_run, label, 0, "modality"))

    runs = {label: load(label) for label in ("raver", "raver@clean", "late-fusion", "late-fusion@clean")}
    reference = runs["raver"]
    for data in runs.values():  # same clips, levels, targets and masks for every training protocol
        for key in ("clip_ids", "levels", "targets", "mask_digests"):
            assert np.array_equal(data[key], reference[key]), key
    # late fusion has no loss augmentation: clean trains it as its recipe does, so the run trains and evaluates it
    # once and copies the predictions; evaluated on its own, the shared checkpoint gives those very bytes
    alone = _run_here(protocol_run.parent / "alone", "--models", "late-fusion", "--protocols", "clean",
                      *GRID[GRID.index("--corruption"):])
    shared = predictions.path(protocol_run, "late-fusion@clean", 0, "modality")
    assert predictions.path(alone, "late-fusion@clean", 0, "modality").read_bytes() == shared.read_bytes()
    assert np.array_equal(runs["late-fusion@clean"]["outputs"], runs["late-fusion"]["outputs"])
    assert not np.array_equal(runs["raver@clean"]["outputs"], runs["raver"]["outputs"])
    info = json.loads((protocol_run / "run.json").read_text())
    assert info["training"] == {"late-fusion": "recipe", "late-fusion@clean": "clean", "raver": "recipe",
                                "raver@clean": "clean"}
    hashes = info["checkpoint_hashes"]
    assert hashes["late-fusion@clean"] == hashes["late-fusion"] and hashes["raver@clean"] != hashes["raver"]


def test_the_run_reports_effects_per_protocol(protocol_run: Path) -> None:
    summary = pd.read_csv(protocol_run / "summary.csv", keep_default_na=False)
    assert {"architecture", "training", "training_effect", "training_p_holm"} <= set(summary.columns)
    emotion = summary[summary["task"] == "emotion"]
    for _, group in emotion.groupby("training"):  # each protocol ranked among its own models
        assert sorted(group["rank"]) == [1, 2]
    row = emotion[emotion["model"] == "raver"].iloc[0]
    clean, recipe = (float(emotion[emotion["model"] == m]["auc"].iloc[0]) for m in ("raver@clean", "raver"))
    assert float(row["training_effect"]) == pytest.approx(recipe - clean)
    assert float(row["training_effect_low"]) <= float(row["training_effect"]) <= float(row["training_effect_high"])
    assert emotion[emotion["model"] == "raver@clean"]["training_effect"].iloc[0] == ""
    stdout = (protocol_run / "stdout.txt").read_text()
    assert "trained: clean" in stdout and "architecture vs training" in stdout and "same weights" in stdout
    page = (protocol_run / "report.html").read_text()
    assert "Architecture vs training" in page and page.count("architecture × training heatmap") == 1
    assert (protocol_run / "plots" / "modality-macro_f1@clean.png").is_file()
    assert (protocol_run / "plots" / "modality-macro_f1.png").is_file()


def test_unknown_protocols_are_one_line_errors(cli) -> None:
    code, err = cli("run", "--models", "ser", "--protocols", "recipe,markov-los", "--corruption", "markov")
    assert code == 2 and "did you mean 'markov-loss'" in err and "Traceback" not in err


def test_entries_record_their_protocol_and_boards_keep_protocols_apart(protocol_run: Path, tmp_path: Path,
                                                                       session_cache) -> None:
    from avbench.leaderboards.board import build_boards
    from avbench.leaderboards.render import board_title
    from avbench.leaderboards.schema import entry_from_dict, load_entries
    from avbench.leaderboards.submit import submit_run

    submit_run(protocol_run, entries_dir=tmp_path)
    entries = {e.model.label: e for e in load_entries(tmp_path)}
    assert entries["raver@clean"].model.training == "clean" and entries["raver"].model.training == RECIPE
    boards = build_boards(list(entries.values()), corruption="modality")
    assert {tuple(sorted(r.entry.model.training for r in b.rows)) for b in boards} == {
        ("recipe", "recipe"), ("clean", "clean")}
    assert any("trained: clean" in board_title(b) for b in boards)
    legacy = entries["raver"].to_dict()
    del legacy["model"]["training"]  # entries written before protocols existed are the recipe's
    assert entry_from_dict(legacy).model.training == RECIPE
    with pytest.raises(UserError, match="training"):
        entry_from_dict({**legacy, "model": {**legacy["model"], "training": ""}})
    assert replace(entries["raver"].model, training="x").training == "x"
