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
        (["run", "--split", "train"], "--split must be test or dev"),
        (["train", "--model", "raver", "--set", "nonsense"], "key=value"),
        (["train", "--model", "nosuch.module:Model"], "cannot import"),
        (["list", "nothing"], "unknown list 'nothing'"),
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


def _audio_text_store(path: Path) -> Path:
    import numpy as np

    from avbench.data.store import StoreWriter

    writer = StoreWriter(path, "podcast-like", ["a", "b"], {"audio": {"rate": 50.0, "shape": [2, 4]},
                                                           "text": {"rate": 0.0, "shape": [4]}})
    for i, split in enumerate(["train", "dev", "test"]):
        writer.add(f"c{i}", f"s{i}", split, 1.0, {"audio": np.zeros((50, 2, 4)), "text": np.zeros((1, 4))},
                   labels=np.array([1.0, 0.0]), word_times=np.array([[0.1, 0.5]]))
    writer.close()
    return path


def test_named_model_without_its_modalities_is_an_error(tmp_path):
    store = _audio_text_store(tmp_path / "store")
    result = avbench("run", "--dataset", str(store), "--models", "raver", cwd=tmp_path)
    assert result.returncode == 2
    assert "needs video" in result.stderr and "Traceback" not in result.stderr


def test_all_skips_models_without_their_modalities_with_a_warning(tmp_path):
    from avbench.models import names
    from avbench.runner import resolve_models

    with pytest.warns(UserWarning) as record:
        usable = resolve_models(names(), {"audio": {}, "text": {}}, None, explicit=False)
    skipped = {str(w.message).split("'")[1] for w in record}
    assert skipped == {"raver", "auxformer", "vavl", "mult", "sfav", "tlstm", "fer", "late-fusion", "late-fusion-masked"}
    assert "raver" not in usable and {"align-vw", "ser", "mdre-gru"} <= set(usable)
