"""``avbench datasets realism``: probes of smoothness, temporal evidence, burst cost, labels and modality strength,
checked on small stores whose properties are known by construction, and on the embedded corpus."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter
from typer.testing import CliRunner

from avbench.cli import app
from avbench.data.corpus_stats import autocorrelation
from avbench.data.realism import TARGETS, measure
from avbench.data.reference_data import CREMA_D_CARDINALITY
from avbench.data.store import StoreWriter

EMOTIONS = ("a", "b", "c")


def _store(path: Path, rho: float, ramp: bool, n_clips: int = 360, seed: int = 0):
    """Clips of 100 audio / 60 video frames. The class shows as a constant offset (``ramp=False``) or only as the
    direction of a zero-mean linear ramp over the clip (``ramp=True``); frame noise is AR(1) with ``rho``."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(len(EMOTIONS), 8))
    writer = StoreWriter(path, "known", EMOTIONS, {"audio": {"rate": 50.0, "shape": [8]},
                                                   "video": {"rate": 30.0, "shape": [8]}})
    for i in range(n_clips):
        label = i % len(EMOTIONS)
        frames = {}
        for m, n in (("audio", 100), ("video", 60)):
            noise = lfilter([np.sqrt(1 - rho**2)], [1, -rho], rng.normal(size=(n, 8)), axis=0)
            shape = np.linspace(-1, 1, n)[:, None] if ramp else np.ones((n, 1))
            frames[m] = 0.5 * shape * dirs[label] + noise
        votes = np.zeros(len(EMOTIONS), int)
        votes[label] = 8
        votes[(label + 1) % 3] = int(rng.integers(0, 3))
        split = ("train", "train", "train", "dev", "test", "test")[(i // 3) % 6]
        writer.add(f"c{i:04d}", f"s{(i // 3) % 6}", split, 2.0, frames, labels=votes / votes.sum(), votes=votes)
    return writer.close()


def test_autocorrelation_of_known_processes():
    rng = np.random.default_rng(0)
    white = [rng.normal(size=(200, 4)) for _ in range(50)]
    ar = [lfilter([1.0], [1, -0.8], rng.normal(size=(400, 4)), axis=0) for _ in range(50)]
    assert abs(autocorrelation(white)[1]) < 0.03
    acf = autocorrelation(ar)
    assert abs(acf[1] - 0.8) < 0.04 and abs(acf[5] - 0.8**5) < 0.06


def test_iid_store_shows_no_smoothness_no_temporal_gain_and_no_burst_cost(tmp_path):
    report = measure(_store(tmp_path / "iid", rho=0.0, ramp=False))
    for m in ("audio", "video"):
        assert abs(report.autocorrelation[m][1]) < 0.05 and abs(report.autocorrelation[m][5]) < 0.05
        assert report.clip_mean_f1[m] > 0.8  # the offset is easy to read from the clip mean
        assert abs(report.temporal_gain(m)) < 0.04
        assert abs(report.burst_cost(m)) < 0.03
    assert report.cardinality["1"] > 0.5 and report.raters is not None


def test_evidence_in_the_contour_shows_as_temporal_gain(tmp_path):
    report = measure(_store(tmp_path / "ramp", rho=0.9, ramp=True))
    assert 0.8 < report.autocorrelation["audio"][1] < 0.95
    assert report.temporal_gain("audio+video") > 0.3  # the clip mean cannot see a zero-mean ramp; thirds can


def test_cli_on_a_store_path_and_bad_input(tmp_path):
    store = _store(tmp_path / "iid", rho=0.0, ramp=False, n_clips=120)
    result = CliRunner().invoke(app, ["datasets", "realism", str(store.path)])
    assert result.exit_code == 0, result.output
    assert "autocorrelation" in result.output and "acceptance targets" in result.output
    missing = CliRunner().invoke(app, ["datasets", "realism", str(tmp_path / "nope")])
    assert missing.exit_code != 0


@pytest.mark.usefixtures("synthetic")
def test_the_embedded_corpus_meets_the_realism_targets():
    """The four targets of the embedded corpus, measured through the command a user runs."""
    from avbench.data.datasets import open_dataset

    result = CliRunner().invoke(app, ["datasets", "realism", "synthetic"])
    assert result.exit_code == 0, result.output
    assert result.output.count("│ yes │") == len(TARGETS), result.output
    report = measure(open_dataset("synthetic"))
    values = report.target_values(CREMA_D_CARDINALITY)
    for name, (low, high) in TARGETS.items():
        assert (low is None or values[name] >= low) and (high is None or values[name] <= high), (name, values[name])
    # fusion in general: the two modalities together carry more than either alone, and audio leads video
    assert report.thirds_f1["audio+video"] > max(report.thirds_f1["audio"], report.thirds_f1["video"]) + 0.02
    assert 0.0 < report.unimodal_gap() < 0.12
    assert 0.6 < report.thirds_f1["audio+video"] < 0.9  # the papers' range, not a trivially separable dataset
    assert report.text_valence_ccc > 0.2  # lexical content is informative about valence
