"""The runtime contract check of the folded frontend (issue 11): a plugin whose frontend is a 5-tap temporal
convolution must not be scored on frames it never received.

``TemporalConvFusion`` below is such a plugin, defined here and named to ``avbench run`` as
``test_contract:TemporalConvFusion`` (with this directory on PYTHONPATH), the way a user names an uninstalled model.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from avbench import models
from avbench.data.batching import Batch, Collator
from avbench.execution.contract import check_folding
from avbench.corruptions import get as get_corruption
from avbench.errors import UserError
from avbench.leaderboards.schema import load_entries
from avbench.leaderboards.submit import submit_run
from avbench.models.base import EmotionModel, FeatureDims, Frames, Recipe, visible
from avbench.execution import units

TESTS = Path(__file__).resolve().parent
PLUGIN = "test_contract:TemporalConvFusion"


class TemporalConvFusion(EmotionModel):
    """A plugin as users write them: a 5-tap temporal convolution in ``frontend`` (a CNN front-end), then mean
    pooling per modality and a linear head. Its frontend is *not* per-frame."""

    name = "temporal-conv-fusion"
    modalities = ("audio", "video")
    tasks = ("emotion",)
    paper = "test plugin"
    configs = {"tiny": {}, "paper": {}}
    recipes = {"tiny": Recipe(optimizer="adamw", lr=3e-3, batch_size=32, epochs=1, loss="ce"),
               "paper": Recipe(optimizer="adamw", lr=3e-3, batch_size=32, epochs=1, loss="ce")}

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion") -> None:
        super().__init__(dims, n_outputs, task)
        self.conv = nn.ModuleDict({m: nn.Conv1d(dims.dim(m), 16, kernel_size=5, padding=2) for m in self.modalities})
        self.head = nn.Linear(16 * len(self.modalities), n_outputs)

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        out = {}
        for m in self.modalities:
            x = inputs[m].mean(dim=2) if inputs[m].dim() == 4 else inputs[m]
            out[m] = self.conv[m](x.transpose(1, 2)).transpose(1, 2)
        return out

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        pooled = []
        for m in self.modalities:
            keep = batch.masks[m].unsqueeze(-1).to(frames[m].dtype)
            pooled.append((frames[m] * keep).sum(1) / keep.sum(1).clamp(min=1.0))
        return self.head(torch.cat(pooled, dim=-1))


class DeclaredNotFoldable(TemporalConvFusion):
    foldable = False


def _dims(store) -> FeatureDims:
    return FeatureDims({m: tuple(s["shape"]) for m, s in store.modalities.items()})


def test_every_registered_model_passes_and_a_temporal_convolution_fails(synthetic) -> None:
    torch.manual_seed(0)
    for name in models.names():
        assert check_folding(models.get(name, dims=_dims(synthetic)), synthetic).outcome == "passed", name
    leak = check_folding(TemporalConvFusion(_dims(synthetic), 6), synthetic)
    assert leak.outcome == "failed" and leak.eval_path == "honest" and leak.max_diff > 1e-3
    declared = check_folding(DeclaredNotFoldable(_dims(synthetic), 6), synthetic)
    assert (declared.outcome, declared.eval_path, declared.max_diff) == ("not-foldable", "honest", None)


def test_honest_path_equals_zero_filled_evaluation(synthetic) -> None:
    """Honest outputs are what the model gives on zero-filled inputs (collated with the masks, a separate code
    path); the folded outputs of the convolutional plugin are not."""
    torch.manual_seed(0)
    model = TemporalConvFusion(_dims(synthetic), 6).eval()
    markov = get_corruption("markov")
    honest = units.predict_under_corruption(model, synthetic, markov, 0, eval_path="honest")["outputs"]
    folded = units.predict_under_corruption(model, synthetic, markov, 0, eval_path="folded")["outputs"]
    collator = Collator(synthetic, model.modalities)
    test = synthetic.split_indices("test")
    level = len(markov.levels) - 1  # the heaviest loss
    masks = units.test_split_masks(synthetic, markov, 0)[level]
    with torch.no_grad():
        expected = np.concatenate([model.predict(visible(model, collator(test[i:i + 64], masks[i:i + 64]))).numpy()
                                   for i in range(0, len(test), 64)])
    np.testing.assert_allclose(honest[level], expected, rtol=1e-5, atol=1e-6)
    assert np.abs(folded[level] - expected).max() > 1e-3  # the leak the check exists for
    by_default = units.predict_under_corruption(model, synthetic, markov, 0)["outputs"]  # the API checks first
    np.testing.assert_array_equal(by_default, honest)


def test_mask_blind_models_never_receive_the_masks(synthetic) -> None:
    """A mask-blind model's fuse is given masks that mark only padding, whatever the harness path."""
    seen = []

    class Spy(TemporalConvFusion):
        def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
            seen.append({m: k.clone() for m, k in batch.masks.items()})
            return super().fuse(frames, batch)

    model = Spy(_dims(synthetic), 6).eval()
    clean = Collator(synthetic, model.modalities)(synthetic.split_indices("test")[:4])
    lossy = clean.with_masks({m: torch.zeros_like(k) for m, k in clean.masks.items()})
    with torch.no_grad():
        model(lossy)
        model.predict(lossy)
    assert seen and all(torch.equal(s[m], clean.blinded().masks[m]) for s in seen for m in s)


class InputReader(TemporalConvFusion):
    """A per-frame frontend (the mean over layers), but a ``fuse`` that also sums the batch's inputs."""

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        return {m: inputs[m].mean(dim=2) if inputs[m].dim() == 4 else inputs[m] for m in self.modalities}

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        read = torch.stack([batch.inputs[m].flatten(1).sum(1) for m in self.modalities], dim=-1)
        return self.head(torch.cat([read, torch.zeros(read.shape[0], self.head.in_features - 2)], dim=-1))


def test_the_folded_path_hands_fuse_no_input_content(synthetic) -> None:
    """Past the frontend the folded path gives the model zeros for inputs (their shapes only): a fuse that reads
    them sees nothing, differs from the honest path, fails the check and is evaluated on zero-filled inputs."""
    torch.manual_seed(0)
    model = InputReader(_dims(synthetic), 6).eval()
    assert check_folding(model, synthetic).outcome == "failed"
    markov = get_corruption("markov")
    folded = units.predict_under_corruption(model, synthetic, markov, 0, eval_path="folded")["outputs"]
    assert np.all(folded == folded[0, 0])  # the same output for every clip and level: no content reached it
    honest = units.predict_under_corruption(model, synthetic, markov, 0, eval_path="honest")["outputs"]
    assert np.abs(honest - folded).max() > 1e-3
    np.testing.assert_array_equal(units.predict_under_corruption(model, synthetic, markov, 0)["outputs"], honest)


def _avbench(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVBENCH_CACHE": str(cache), "AVBENCH_THREADS": "1", "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "avbench", *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory, session_cache, synthetic) -> Path:
    out = tmp_path_factory.mktemp("contract") / "run"
    done = _avbench("run", "--models", f"{PLUGIN},late-fusion", "--corruption", "markov", "--bootstrap", "100",
                    "--epochs", "1", "--workers", "1", "--out", str(out), cache=session_cache)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("evaluated by the honest path") == 1, done.stderr  # warned once, for the plugin
    return out


def test_run_records_the_path_and_mask_access(leaky_run: Path) -> None:
    info = json.loads((leaky_run / "run.json").read_text())["evaluation"]
    assert info[PLUGIN]["eval_path"] == "honest" and info[PLUGIN]["contract"] == "failed"
    assert info[PLUGIN]["sees_masks"] is False
    assert info["late-fusion"] == {**info["late-fusion"], "eval_path": "folded", "contract": "passed",
                                   "sees_masks": False}
    with np.load(leaky_run / "predictions" / "test_contract_TemporalConvFusion" / "seed0" / "markov.npz") as data:
        assert str(data["eval_path"]) == "honest" and str(data["contract"]) == "failed"


def test_submit_accepts_honest_and_refuses_tampered_folded_predictions(leaky_run: Path, tmp_path: Path) -> None:
    entries = tmp_path / "entries"
    submit_run(leaky_run, entries_dir=entries)
    recorded = {e.model.label: (e.model.eval_path, e.model.sees_masks) for e in load_entries(entries)}
    assert recorded == {PLUGIN: ("honest", False), "late-fusion": ("folded", False)}

    path = leaky_run / "predictions" / "test_contract_TemporalConvFusion" / "seed0" / "markov.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for tampered, reason in (({"eval_path": np.array("folded")}, "failed the per-frame contract"),
                             ({"eval_path": np.array("folded"), "contract": np.array("passed")}, "disagree")):
        with open(path, "wb") as fh:
            np.savez(fh, **{**arrays, **tampered})
        with pytest.raises(UserError, match=reason):
            submit_run(leaky_run, entries_dir=tmp_path / "refused")
        assert not (tmp_path / "refused").exists()
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_list_models_shows_mask_access(session_cache: Path) -> None:
    done = _avbench("list", "models", cache=session_cache)
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") > 3}
    assert "sees masks" in done.stdout
    for name in models.names():
        assert f"│ {'yes' if models.model_class(name).sees_masks else 'no'}" in rows[name], name
