"""The documented plugin path end to end: the example package registers a model through the ``avbench.models``
entry point, ``avbench run`` trains and evaluates it, ``avbench submit`` verifies it (re-inferring it from the installed
plugin), the leaderboard ranks it.

The entry point is made visible the way an installed wheel would: a ``*.dist-info`` directory with
``entry_points.txt`` and ``METADATA`` on ``PYTHONPATH`` next to the package, in a fresh interpreter.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from avbench.leaderboards.commands import render
from avbench.leaderboards.schema import load_entries
from avbench.leaderboards.submit import submit_run
from avbench.models import REGISTRY
from avbench.models.base import FeatureDims

PLUGIN = Path(__file__).resolve().parents[1] / "leaderboards" / "example_plugin"


def _dist_info(root: Path) -> Path:
    """What ``pip install`` would leave: the entry point declared in the example's pyproject.toml."""
    info = root / "avbench_example_plugin-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: avbench-example-plugin\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[avbench.models]\nexample-gated-mean = avbench_example_plugin.model:GatedMeanFusion\n")
    return root


def test_pyproject_declares_the_same_entry_point() -> None:
    text = (PLUGIN / "pyproject.toml").read_text()
    assert '[project.entry-points."avbench.models"]' in text
    assert 'example-gated-mean = "avbench_example_plugin.model:GatedMeanFusion"' in text


def test_example_model_stays_finite_without_a_modality() -> None:
    sys.path.insert(0, str(PLUGIN))
    try:
        from avbench_example_plugin.model import GatedMeanFusion
    finally:
        sys.path.remove(str(PLUGIN))
    from avbench.data.batching import Batch

    model = GatedMeanFusion(FeatureDims({"audio": (5, 32), "video": (32,)}), 6)
    inputs = {"audio": torch.randn(2, 7, 5, 32), "video": torch.randn(2, 4, 32)}
    masks = {"audio": torch.zeros(2, 7, dtype=torch.bool), "video": torch.ones(2, 4, dtype=torch.bool)}
    batch = Batch(inputs, masks, {"audio": torch.tensor([7, 5]), "video": torch.tensor([4, 4])},
                  torch.zeros(2, 0, 2), torch.ones(2))
    probs = model.predict(batch)
    assert probs.shape == (2, 6) and torch.isfinite(probs).all()


def test_plugin_registers_runs_and_is_submitted(session_cache: Path, synthetic, tmp_path: Path,
                                                monkeypatch) -> None:
    env = {**os.environ, "AVBENCH_CACHE": str(session_cache), "AVBENCH_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(_dist_info(tmp_path / "site")), str(PLUGIN),
                                          os.environ.get("PYTHONPATH", "")])}
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "avbench", "run", "--models", "example-gated-mean", "--corruption", "modality",
               "--bootstrap", "100", "--epochs", "1", "--workers", "1", "--out", str(run_dir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run_dir / "predictions" / "example-gated-mean" / "seed0" / "modality.npz").is_file()

    # Submit re-infers the model from this machine's installation of the plugin (never from the submission, which
    # stays data): made visible here as in the run's interpreter, its entry points read again.
    entries = tmp_path / "entries"
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(REGISTRY, "_plugins_loaded", False)
    monkeypatch.setattr(REGISTRY, "_entries", dict(REGISTRY._entries))
    (written,) = submit_run(run_dir, entries_dir=entries)
    assert sys.modules["avbench_example_plugin.model"].__file__.startswith(str(PLUGIN))
    (entry,) = load_entries(entries)
    assert (entry.model.label, entry.provenance, entry.protocol.dataset) == ("example-gated-mean", "verified",
                                                                            "synthetic")
    assert (entry.model.sees_masks, entry.model.eval_path) == (True, "folded")  # declared; per-frame frontend
    assert written.name.startswith("example-gated-mean--synthetic--avbench-")
    board = render("md", dataset="synthetic", entries=entries)
    assert "| 1 | example-gated-mean | verified |" in board
