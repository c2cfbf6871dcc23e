"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing written."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def avbench(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "avbench", *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=300)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--models", "ravr"], "did you mean 'raver'"),
        (["run", "--corruption", "markv"], "did you mean 'markov'"),
        (["run", "--dataset", "synthetc"], "did you mean 'synthetic'"),
        (["run", "--dataset", "./no/such/store"], "dataset path does not exist"),
        (["run", "--modality", "video"], "random"),
        (["run", "--seed-list", "0,x"], "--seed-list"),
        (["run", "--task", "valence"], "--task"),
        (["train", "--model", "raver", "--set", "nonsense"], "key=value"),
        (["train", "--model", "nosuch.module:Model"], "cannot import"),
        (["list", "nothing"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    result = avbench(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_unwritable_out(tmp_path, session_cache):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = avbench("run", "--models", "late-fusion", "--corruption", "modality", "--out", str(blocker / "run"),
                     env={"AVBENCH_CACHE": str(session_cache)})
    assert result.returncode == 2
    assert "cannot write to --out" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_m_and_console_script_agree():
    result = avbench("--help")
    assert result.returncode == 0 and "run" in result.stdout and "train" in result.stdout
    script = Path(sys.executable).with_name("avbench")
    if script.exists():
        direct = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                                env={**os.environ, "COLUMNS": "200"})
        assert direct.stdout == result.stdout
