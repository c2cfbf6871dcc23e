"""The evaluation contract (issues 11 and 24): the folded path equals the honest path by construction for every
registered model, a frontend that needs the time axis is refused in one line, the record of how each file was made
reaches run.json, the entries and ``avbench submit``.

``TemporalConvFusion`` below is a plugin with a 5-tap temporal convolution in its frontend (a CNN front-end);
``ConvInFuse`` is the same model with the convolution in ``fuse``, where it belongs, declared ``foldable = False``.
They are named to the CLI as ``test_contract:...`` (with this directory on PYTHONPATH), the way a user names an
uninstalled model. The adversarial plugins of every evasion class are in ``test_leak_proof.py``.
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
from avbench.corruptions import get as get_corruption
from avbench.data.batching import Batch, Collator
from avbench.errors import UserError
from avbench.execution import units
from avbench.execution.contract import level_outputs
from avbench.leaderboards.schema import load_entries
from avbench.leaderboards.submit import submit_run
from avbench.models.base import EmotionModel, FeatureDims, Frames, Recipe, frontend_frames, visible

TESTS = Path(__file__).resolve().parent
PLUGIN = "test_contract:ConvInFuse"


class TemporalConvFusion(EmotionModel):
    """A plugin as users wrote them before: a 5-tap temporal convolution in ``frontend`` (a CNN front-end), then
    mean pooling per modality and a linear head. Its frontend is *not* per-frame."""

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
        for m, x in inputs.items():
            x = x.mean(dim=2) if x.dim() == 4 else x
            out[m] = self.conv[m](x.transpose(1, 2)).transpose(1, 2)
        return out

    def pool(self, frames: Frames, batch: Batch) -> torch.Tensor:
        pooled = []
        for m in self.modalities:
            keep = batch.masks[m].unsqueeze(-1).to(frames[m].dtype)
            pooled.append((frames[m] * keep).sum(1) / keep.sum(1).clamp(min=1.0))
        return self.head(torch.cat(pooled, dim=-1))

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        return self.pool(frames, batch)


class ConvInFuse(TemporalConvFusion):
    """The same convolution where it belongs: in ``fuse``, over the frames with the lost ones already replaced."""

    foldable = False  # asks for the honest path (the record says so); the outputs would be the same folded

    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        return {m: x.mean(dim=-2) if m == "audio" else x for m, x in inputs.items()}

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        return self.pool({m: self.conv[m](f.transpose(1, 2)).transpose(1, 2) for m, f in frames.items()}, batch)


def _dims(store) -> FeatureDims:
    return FeatureDims({m: tuple(s["shape"]) for m, s in store.modalities.items()})


def test_every_registered_model_folds_exactly_and_a_temporal_frontend_is_refused(synthetic) -> None:
    """16 test clips, 70 % of every modality lost: each registered model's folded outputs (its frontend on the clean
    clips, lost frames replaced) equal its honest ones (its frontend on the zero-filled inputs)."""
    torch.manual_seed(0)
    test = synthetic.split_indices("test")[:16]
    for name in models.names():
        model = models.get(name, dims=_dims(synthetic)).eval()
        clean = Collator(synthetic, model.modalities)(test)
        g = torch.Generator().manual_seed(1)
        keep = {m: torch.rand(k.shape, generator=g) < 0.3 for m, k in clean.masks.items()}
        with torch.inference_mode():
            folded = level_outputs(model, clean.with_masks(keep, zero_fill=False), frontend_frames(model, clean.inputs))
            honest = level_outputs(model, clean.with_masks(keep))
        torch.testing.assert_close(folded, honest, rtol=0, atol=1e-6, msg=name)
    with pytest.raises(UserError, match="frontend failed on one audio frame of shape") as refused:
        units.predict_under_corruption(TemporalConvFusion(_dims(synthetic), 6), synthetic, get_corruption("markov"), 0)
    assert "\n" not in str(refused.value)


def test_a_temporal_frontend_is_refused_in_training_with_one_line(cli, session_cache) -> None:
    code, err = cli("train", "--model", "test_contract:TemporalConvFusion", "--epochs", "1")
    assert code == 2 and "frontend failed on one" in err and "belong in fuse" in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(errors) == 1 and "frontend failed" in errors[0], err


def test_honest_path_equals_zero_filled_evaluation(synthetic) -> None:
    """Honest outputs are what the model gives on zero-filled inputs (collated with the masks, a separate code
    path, in split order rather than length-sorted batches); the default path gives the same."""
    torch.manual_seed(0)
    model = ConvInFuse(_dims(synthetic), 6).eval()
    markov = get_corruption("markov")
    honest = units.predict_under_corruption(model, synthetic, markov, 0, eval_path="honest")
    assert (str(honest["eval_path"]), str(honest["contract"])) == ("honest", "not-foldable")
    collator = Collator(synthetic, model.modalities)
    test = synthetic.split_indices("test")
    level = len(markov.levels) - 1  # the heaviest loss
    masks = units.test_split_masks(synthetic, markov, 0)[level]
    with torch.no_grad():
        expected = np.concatenate([model.predict(visible(model, collator(test[i:i + 64], masks[i:i + 64]))).numpy()
                                   for i in range(0, len(test), 64)])
    np.testing.assert_allclose(honest["outputs"][level], expected, rtol=1e-5, atol=1e-6)
    folded = units.predict_under_corruption(model, synthetic, markov, 0, eval_path="folded")
    np.testing.assert_allclose(folded["outputs"], honest["outputs"], rtol=0, atol=1e-6)


def test_mask_blind_models_never_receive_the_masks(synthetic) -> None:
    """A mask-blind model's fuse is given masks that mark only padding, whatever the harness path."""
    seen = []

    class Spy(ConvInFuse):
        def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
            seen.append({m: k.clone() for m, k in batch.masks.items()})
            return super().fuse(frames, batch)

    model = Spy(_dims(synthetic), 6).eval()
    clean = Collator(synthetic, model.modalities)(synthetic.split_indices("test")[:4])
    lossy = clean.with_masks({m: torch.zeros_like(k) for m, k in clean.masks.items()})
    with torch.no_grad():
        model(lossy)
        model.predict(lossy)
        level_outputs(model, lossy)
    assert len(seen) == 3 and all(torch.equal(s[m], clean.blinded().masks[m]) for s in seen for m in s)


def _avbench(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVBENCH_CACHE": str(cache), "AVBENCH_THREADS": "1", "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "avbench", *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory, session_cache, synthetic) -> Path:
    out = tmp_path_factory.mktemp("contract") / "run"
    done = _avbench("run", "--models", f"{PLUGIN},late-fusion", "--corruption", "markov", "--bootstrap", "100",
                    "--epochs", "1", "--workers", "1", "--out", str(out), cache=session_cache)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "honest path" not in done.stderr, done.stderr  # nothing failed, nothing to warn about
    return out


def test_run_records_the_path_and_mask_access(plugin_run: Path) -> None:
    info = json.loads((plugin_run / "run.json").read_text())["evaluation"]
    assert info[PLUGIN]["eval_path"] == "honest" and info[PLUGIN]["contract"] == "not-foldable"
    assert info[PLUGIN]["sees_masks"] is False
    assert info["late-fusion"] == {**info["late-fusion"], "eval_path": "folded", "contract": "passed",
                                   "sees_masks": False, "contract_max_diff": 0.0}
    with np.load(plugin_run / "predictions" / "test_contract_ConvInFuse" / "seed0" / "markov.npz") as data:
        assert str(data["eval_path"]) == "honest" and str(data["contract"]) == "not-foldable"


def test_submit_accepts_honest_and_refuses_tampered_folded_predictions(plugin_run: Path, tmp_path: Path) -> None:
    entries = tmp_path / "entries"
    submit_run(plugin_run, entries_dir=entries)
    recorded = {e.model.label: (e.model.eval_path, e.model.sees_masks) for e in load_entries(entries)}
    assert recorded == {PLUGIN: ("honest", False), "late-fusion": ("folded", False)}

    path = plugin_run / "predictions" / "test_contract_ConvInFuse" / "seed0" / "markov.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for tampered, reason in (({"eval_path": np.array("folded")}, "failed the per-frame contract"),
                             ({"eval_path": np.array("folded"), "contract": np.array("passed")}, "disagree")):
        with open(path, "wb") as fh:
            np.savez(fh, **{**arrays, **tampered})
        with pytest.raises(UserError, match=reason):
            submit_run(plugin_run, entries_dir=tmp_path / "refused")
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
