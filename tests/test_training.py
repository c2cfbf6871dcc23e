"""Training: deterministic, checkpoints round-trip through safetensors+JSON, corrupt ones are retrained."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avbench.execution import checkpoints
from avbench.execution.training import TrainSpec, load_or_train, predict_split
from avbench.tasks.losses import class_balanced_weights
from avbench.data.batching import Collator

SPEC = TrainSpec("late-fusion", seed=0, epochs=2)


def test_same_seed_same_weights(synthetic, tmp_path):
    _, _, a = load_or_train(SPEC, synthetic, root=tmp_path / "a")
    _, _, b = load_or_train(SPEC, synthetic, root=tmp_path / "b")
    _, _, c = load_or_train(TrainSpec("late-fusion", seed=1, epochs=2), synthetic, root=tmp_path / "c")
    blob = lambda d: (d / "weights.safetensors").read_bytes()  # noqa: E731
    assert blob(a) == blob(b) != blob(c)


def test_checkpoint_round_trip_and_reuse(synthetic, tmp_path):
    model, description, directory = load_or_train(SPEC, synthetic, root=tmp_path)
    assert description["label"] == "late-fusion" and len(description["history"]) == 2
    reloaded, again, same_dir = load_or_train(SPEC, synthetic, root=tmp_path)
    assert same_dir == directory and again["weights_sha256"]
    collator = Collator(synthetic, ("audio", "video"))
    test = synthetic.split_indices("test")[:32]
    np.testing.assert_array_equal(predict_split(model, collator, test), predict_split(reloaded, collator, test))


def test_corrupt_checkpoint_is_retrained_with_a_warning(synthetic, tmp_path):
    _, _, directory = load_or_train(SPEC, synthetic, root=tmp_path)
    (directory / "weights.safetensors").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="corrupt cached checkpoint"):
        load_or_train(SPEC, synthetic, root=tmp_path)
    model = load_or_train(SPEC, synthetic, root=tmp_path)[0]
    assert checkpoints.load(directory, model)["label"] == "late-fusion"


def test_class_balanced_weights_favour_rare_classes():
    labels = np.array([[1, 0, 0]] * 8 + [[0, 1, 0]] * 2 + [[0, 0, 1]] * 1, dtype=float)
    w = class_balanced_weights(labels, beta=0.99)
    assert w.sum().item() == pytest.approx(3.0)
    assert w[0] < w[1] < w[2]


def test_class_balanced_beta_defaults_to_the_training_set_size():
    """No recipe states its own β: the default is (N−1)/N over the N training clips (Chou et al., EMO-SUPERB)."""
    from avbench.models import REGISTRY

    labels = np.array([[1, 0, 0]] * 8 + [[0, 1, 0]] * 2 + [[0, 0, 1]] * 1, dtype=float)
    torch.testing.assert_close(class_balanced_weights(labels), class_balanced_weights(labels, beta=10 / 11))
    assert all(recipe.cb_beta is None for name in REGISTRY.names()
               for recipe in REGISTRY.get(name).recipes.values())


def test_synthetic_is_learnable_and_degrades_with_masking(synthetic, tmp_path):
    """A simple model beats chance clearly on clean data, and its score falls as random masking rises."""
    from avbench.corruptions import get
    from avbench.scoring.metrics import classification_scores
    from avbench.execution.units import predict_under_corruption

    model, _, _ = load_or_train(TrainSpec("late-fusion", seed=0), synthetic, root=tmp_path)
    arrays = predict_under_corruption(model, synthetic, get("random-all"), mask_seed=0)
    labels = arrays["levels"].tolist()
    f1 = {lv: classification_scores(arrays["targets"], arrays["outputs"][i])["macro_f1"] for i, lv in enumerate(labels)}
    rng = np.random.default_rng(0)
    chance = classification_scores(arrays["targets"], rng.dirichlet(np.ones(6), len(arrays["targets"])))["macro_f1"]
    assert f1["0pct"] > chance + 0.2
    assert f1["0pct"] > f1["50pct"] > f1["90pct"] > f1["100pct"]
    assert f1["100pct"] < chance + 0.1
