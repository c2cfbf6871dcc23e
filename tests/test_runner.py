"""`avbench run` end to end through the real CLI: outputs, determinism, SIGKILL + resume, executor equivalence."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GRID = ["--models", "late-fusion,ser", "--corruption", "markov,modality", "--bootstrap", "100", "--epochs", "2"]


def avbench(*args: str, cache: Path, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {**os.environ, "AVBENCH_CACHE": str(cache), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "avbench", *args]
    if kwargs.pop("background", False):
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, session_cache, synthetic) -> Path:
    """An uninterrupted run with its own fresh checkpoint cache (the dataset is copied from the session cache)."""
    cache = tmp_path_factory.mktemp("cache-ref")
    (cache / "datasets").symlink_to(session_cache / "datasets", target_is_directory=True)
    out = tmp_path_factory.mktemp("ref") / "run"
    result = avbench("run", *GRID, "--out", str(out), "--workers", "2", cache=cache)
    assert result.returncode == 0, result.stderr
    return out


def test_outputs_are_complete(reference_run: Path):
    out = reference_run
    for name in ("results.csv", "results.parquet", "summary.csv", "run.json"):
        assert (out / name).is_file()
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == ["model", "seed", "dataset", "task", "corruption", "level", "x", "params", "metric",
                                "value", "ci_low", "ci_high", "n"]
    assert set(df["model"]) == {"late-fusion", "ser"} and set(df["seed"].astype(str)) == {"0", "mean"}
    assert {"macro_f1", "micro_f1", "weighted_f1", "sample_precision", "brier", "ece", "f1_anger"} <= set(df["metric"])
    assert (df["ci_low"] <= df["value"] + 1e-12).all() and (df["value"] <= df["ci_high"] + 1e-12).all()
    markov = df[(df["corruption"] == "markov") & (df["seed"] == "mean") & (df["metric"] == "macro_f1")]
    assert len(markov) == 2 * 10
    info = json.loads((out / "run.json").read_text())
    for key in ("avbench_version", "git_commit", "command", "dataset_fingerprint", "config_hashes",
                "library_versions", "device", "seeds", "wall_time_s"):
        assert key in info
    assert info["status"] == "complete"
    with np.load(out / "predictions" / "late-fusion" / "seed0" / "markov.npz", allow_pickle=False) as data:
        assert data["outputs"].shape[:2] == (10, len(data["clip_ids"]))
        np.testing.assert_allclose(data["outputs"].sum(-1), 1.0, rtol=1e-5)
    assert (out / "plots" / "markov-macro_f1.png").stat().st_size > 1000
    assert (out / "plots" / "markov-macro_f1.pdf").is_file()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["corruption"]) == {"markov", "modality"} and (summary["rank"] >= 1).all()


def test_kill_and_resume_gives_identical_results(reference_run: Path, tmp_path, session_cache):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "datasets").symlink_to(session_cache / "datasets", target_is_directory=True)
    out = tmp_path / "run"
    proc = avbench("run", *GRID, "--out", str(out), "--workers", "1", cache=cache, background=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list((cache / "checkpoints").glob("*/checkpoint.json")):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.csv").exists()
    result = avbench("run", *GRID, "--out", str(out), "--workers", "1", cache=cache)
    assert result.returncode == 0, result.stderr
    assert (out / "results.csv").read_bytes() == (reference_run / "results.csv").read_bytes()
    assert (out / "summary.csv").read_bytes() == (reference_run / "summary.csv").read_bytes()


def test_same_command_twice_is_identical(reference_run: Path, tmp_path, session_cache):
    """Also in another order: the recorded unit times below send ser to the workers before late-fusion."""
    cache = Path(os.environ["AVBENCH_CACHE"])
    record = cache / "unit-seconds.json"
    record.write_text(json.dumps({"synthetic|tiny|ser": 99.0, "synthetic|tiny|late-fusion": 1.0}))
    result = avbench("run", *GRID, "--out", str(tmp_path / "again"), "--workers", "2", cache=cache)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again" / "results.csv").read_bytes() == (reference_run / "results.csv").read_bytes()
    timed = json.loads(record.read_text())  # this run's own times replace the made-up ones
    assert 0 < timed["synthetic|tiny|ser"] < 99 and timed["synthetic|tiny|late-fusion"] > 0


def test_models_are_submitted_longest_first(tmp_path, monkeypatch):
    from avbench.execution import scheduling

    monkeypatch.setenv("AVBENCH_CACHE", str(tmp_path))
    labels = ["fer", "raver", "ser", "vavl"]
    assert scheduling.longest_first(labels, "synthetic", "tiny") == labels  # nothing recorded: as given
    scheduling.record({"fer": 0.3, "raver": 1.5, "vavl": 4.0}, "synthetic", "tiny")
    assert scheduling.longest_first(labels, "synthetic", "tiny") == ["ser", "vavl", "raver", "fer"]  # untimed first
    assert scheduling.longest_first(labels, "synthetic", "paper") == labels  # per configuration
    (tmp_path / scheduling.FILE).write_bytes(b"\x00not json")
    assert scheduling.longest_first(labels, "synthetic", "tiny") == labels  # a broken record is only a lost hint


@pytest.mark.parametrize(("executor", "extra"), [("ray", "ray"), ("slurm", "submitit")])
def test_other_executors_match_local(reference_run: Path, tmp_path, executor: str, extra: str):
    """Ray tasks and submitit jobs (its local executor stands in for Slurm) give byte-identical results."""
    pytest.importorskip(extra, reason=f"the {executor} extra is not installed")
    result = avbench("run", *GRID, "--out", str(tmp_path / executor), "--executor", executor, "--workers", "2",
                     cache=Path(os.environ["AVBENCH_CACHE"]))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / executor / "results.csv").read_bytes() == (reference_run / "results.csv").read_bytes()
