"""The third task, ``category`` (single-label plurality emotion), added as one Task subclass: targets, decisions,
loss, and a run through the real CLI that scores and ranks it like any other task."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score

from avbench.rundir import predictions

from avbench import tasks
from avbench.data.batching import Collator


def test_category_targets_the_plurality_emotion_and_decides_by_the_most_probable(synthetic) -> None:
    task = tasks.get("category")
    test = synthetic.split_indices("test")
    shares = np.asarray(synthetic.labels[test])
    targets = task.targets(synthetic, test)
    assert np.array_equal(targets.argmax(1), shares.argmax(1)) and np.all(targets.sum(1) == 1)
    probs = np.random.default_rng(0).dirichlet(np.ones(targets.shape[1]), size=len(test))
    scores = task.point_scores(targets, probs, task.names(synthetic))
    expected = f1_score(shares.argmax(1), probs.argmax(1), average="macro", labels=range(targets.shape[1]),
                        zero_division=0)
    assert scores[task.primary] == pytest.approx(expected)
    batch_targets = Collator(synthetic).targets(test[:8])
    logits = torch.randn(8, targets.shape[1])
    loss = task.criterion("ce", synthetic, 0.9)(logits, batch_targets)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, batch_targets.labels.argmax(-1))))


def test_category_runs_scores_and_ranks_through_the_cli(tmp_path: Path, session_cache, synthetic) -> None:
    env = {**os.environ, "AVBENCH_CACHE": str(session_cache), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "avbench", "run", "--models", "late-fusion,fer", "--task", "category",
           "--corruption", "modality", "--epochs", "1", "--bootstrap", "100", "--out", str(tmp_path / "run")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(tmp_path / "run" / "summary.csv", keep_default_na=False)
    assert set(summary["task"]) == {"category"} and sorted(summary["rank"]) == [1, 2]
    assert set(summary["compared_over"]) == {"none+video"}  # FER uses no audio: audio loss is not shared
    data = predictions.load(predictions.path(tmp_path / "run", "fer", 0, "modality"))
    assert str(data["task"]) == "category" and np.all(data["targets"].sum(-1) == 1)
    bad = subprocess.run([*cmd[:-2], "--task", "categroy", "--out", str(tmp_path / "bad")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "did you mean 'category'" in bad.stderr
