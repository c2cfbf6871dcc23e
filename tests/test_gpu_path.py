"""The GPU-efficient path on the CPU: background prefetch changes no number, bf16 autocast runs and is recorded,
and CUDA runs ask their executors for GPUs."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from avbench.data import batching

from avbench.execution import training
from avbench.data.batching import Collator, prefetch
from avbench.execution.executors import make_executor
from avbench.execution.training import TrainSpec, checkpoint_dir, iterate, load_or_train


def _tensors(item: batching.Labelled) -> list[torch.Tensor]:
    batch = item.batch
    return [*batch.inputs.values(), *batch.masks.values(), *batch.lengths.values(), batch.word_times,
            batch.durations, item.targets.labels, item.targets.attributes]


def test_prefetched_batches_equal_batches_built_in_the_loop(synthetic):
    collator = Collator(synthetic)
    chunks = iterate(synthetic.split_indices("train")[:70], 16, np.random.default_rng(3))
    ahead = list(prefetch(chunks, collator.labelled, "cpu", depth=2))
    inline = list(prefetch(chunks, collator.labelled, "cpu", depth=0))
    assert len(ahead) == len(inline) == len(chunks) == 5
    for a, b in zip(ahead, inline, strict=True):
        for x, y in zip(_tensors(a), _tensors(b), strict=True):
            assert x.dtype == y.dtype and torch.equal(x, y)


def test_prefetch_reraises_a_collation_error_and_stops_early_without_hanging(synthetic):
    collator = Collator(synthetic)

    def failing(chunk):
        if chunk[0] >= 32:
            raise ValueError("broken clip")
        return collator(chunk)

    chunks = [np.arange(i, i + 16) for i in range(0, 64, 16)]
    with pytest.raises(ValueError, match="broken clip"):
        list(prefetch(chunks, failing, "cpu"))
    first = next(iter(prefetch(chunks, collator, "cpu", depth=1)))  # generator closed with the queue full
    assert first.size == 16


def test_training_with_prefetch_gives_the_weights_of_collating_in_the_loop(synthetic, tmp_path, monkeypatch):
    spec = TrainSpec("late-fusion", seed=0, epochs=2)
    _, _, ahead = load_or_train(spec, synthetic, root=tmp_path / "ahead")
    monkeypatch.setattr(training, "prefetch", functools.partial(prefetch, depth=0))
    _, _, inline = load_or_train(spec, synthetic, root=tmp_path / "inline")
    assert (ahead / "weights.safetensors").read_bytes() == (inline / "weights.safetensors").read_bytes()


def test_precision_keys_the_checkpoint_and_fp32_keys_are_unchanged(synthetic):
    fp32, bf16 = TrainSpec("ser"), TrainSpec("ser", precision="bf16")
    assert checkpoint_dir(fp32, synthetic) != checkpoint_dir(bf16, synthetic)
    assert "bf16" in checkpoint_dir(bf16, synthetic).name
    from avbench.execution import checkpoints

    old_key = checkpoints.config_hash({"spec": {k: v for k, v in fp32.__dict__.items()
                                                if k not in ("precision", "training")},  # both added later
                                       "dataset": synthetic.fingerprint})
    assert checkpoint_dir(fp32, synthetic).name.endswith(old_key)


def test_bf16_run_on_cpu_is_finite_and_recorded(synthetic, session_cache, tmp_path):
    out = tmp_path / "bf16"
    env = {**os.environ, "AVBENCH_CACHE": str(session_cache), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "avbench", "run", "--models", "ser", "--corruption", "modality",
                             "--epochs", "1", "--bootstrap", "100", "--precision", "bf16", "--workers", "1",
                             "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["precision"] == "bf16"
    with np.load(out / "predictions" / "ser" / "seed0" / "modality.npz", allow_pickle=False) as data:
        assert data["outputs"].dtype == np.float32 and np.isfinite(data["outputs"]).all()
    checkpoint = json.loads(next(session_cache.glob("checkpoints/ser-tiny-bf16-seed0-*/checkpoint.json")).read_text())
    assert checkpoint["precision"] == "bf16"


def test_unknown_precision_is_one_error_line(session_cache):
    env = {**os.environ, "AVBENCH_CACHE": str(session_cache)}
    result = subprocess.run([sys.executable, "-m", "avbench", "train", "--model", "ser", "--precision", "fp8"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--precision must be one of fp32, bf16" in result.stderr
    assert "Traceback" not in result.stderr


def test_cuda_runs_ask_slurm_for_a_gpu_per_unit(tmp_path):
    pytest.importorskip("submitit", reason="the slurm extra is not installed")
    gpu = make_executor("slurm", 1, tmp_path / "gpu", slurm_cluster="local", gpus_per_unit=1)
    cpu = make_executor("slurm", 1, tmp_path / "cpu", slurm_cluster="local")
    assert gpu._executor._executor.parameters["gpus_per_node"] == 1
    assert "gpus_per_node" not in cpu._executor._executor.parameters
