"""`avbench speed scale` on a tiny setting through the real CLI, and the projection's arithmetic."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from avbench.speed.scale import CORPORA, project_model


def _scale(*args: str, cache, columns: str = "250") -> subprocess.CompletedProcess:
    env = {**os.environ, "AVBENCH_CACHE": str(cache), "COLUMNS": columns}
    return subprocess.run([sys.executable, "-m", "avbench", "speed", "scale", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_scale_measures_a_model_and_an_encoder_and_projects_corpus_costs(session_cache, synthetic):
    pytest.importorskip("transformers")
    result = _scale("--models", "ser,fer", "--encoders", "wav2vec2-large-robust", "--steps", "1",
                    "--batch-size", "2", cache=session_cache, columns="80")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "…" not in text  # piped: tables at their natural width, whatever $COLUMNS says
    encoder = next(line for line in text.splitlines() if line.startswith("│ wav2vec2-large-robust "))
    assert [c.strip() for c in encoder.strip("│ ").split("│")][1] == "24"  # extrapolated to its 24 layers
    ser = next(line for line in text.splitlines() if line.startswith("│ ser "))
    cells = [c.strip() for c in ser.strip("│ ").split("│")]
    assert float(cells[3]) > 0 and float(cells[5]) > 0  # steps/s, evaluation clips × levels/s
    assert cells[6] != "–" and cells[7] != "–"  # audio only: projected on both corpora
    faces = next(line for line in text.splitlines() if line.startswith("│ fer "))
    assert faces.rstrip(" │").endswith("–")  # needs video, which MSP-Podcast lacks
    assert "full RAVER sweep" not in text  # CREMA-D's encoders were not measured


def test_unknown_encoder_is_one_error_line(session_cache):
    result = _scale("--models", "none", "--encoders", "nope", cache=session_cache)
    assert result.returncode == 2 and "unknown encoder 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_projection_scales_with_rates_and_clip_length():
    measured = {"steps_per_s": 2.0, "batch_size": 32, "epochs": 10, "eval_clip_levels_per_s": 100.0,
                "mean_seconds": 2.54}
    shares = {"train": 0.6, "dev": 0.2, "test": 0.2}
    crema = CORPORA[0]
    base = project_model(measured, crema, shares, levels=10)
    faster = project_model({**measured, "steps_per_s": 4.0, "eval_clip_levels_per_s": 200.0}, crema, shares, 10)
    assert faster["train_s"] == pytest.approx(base["train_s"] / 2)
    assert faster["eval_s"] == pytest.approx(base["eval_s"] / 2)
    longer = project_model({**measured, "mean_seconds": 1.27}, crema, shares, 10)
    assert longer["eval_s"] == pytest.approx(2 * base["eval_s"])
    assert base["eval_s"] == pytest.approx(crema.clips * 0.2 * 10 / 100.0)
