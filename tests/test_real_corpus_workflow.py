"""A CREMA-D checkout as a researcher brings it, through the real CLI: info → extract → run ``--models all``.

The checkout is partial like the one of issue 16: the real CREMA-D tables (SentenceFilenames.csv and
VideoDemographics.csv from the shared copy, read in place; its tabulatedVotes.csv is absent, so the audio-visual
votes are derived from the shared summaryTable.csv's majority votes), media for 12 of 7,438 clips — real RAVDESS
speech renamed as CREMA-D clips of four actors, and short videos of a real face, FLV as upstream and MP4 as many
mirrors have them. The encoders are tiny local models; the video one has calibrated batch-norm statistics so its
features are real numbers (the uncalibrated one is the degenerate case, tested separately).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from avbench.corpora import crema_d, load_labels
from avbench.data.store import FeatureStore

from test_extract_media import face_image, write_video
from test_extract_pipeline import SPEECH, models  # noqa: F401  (module fixture: tiny local encoders)

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "crema-d"
pytestmark = pytest.mark.skipif(not (REAL / "processedResults" / "summaryTable.csv").is_file() or len(SPEECH) < 12,
                                reason="shared CREMA-D tables or RAVDESS sample not present")


def _derived_votes(root: Path) -> None:
    """tabulatedVotes.csv rows (audio-visual, id 300000 + clip number) from summaryTable.csv's majority vote."""
    numbers = {}
    with open(REAL / "SentenceFilenames.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            numbers[row["Filename"]] = int(row["Stimulus_Number"])
    (root / "processedResults").mkdir()
    with open(REAL / "processedResults" / "summaryTable.csv", newline="") as src, \
            open(root / "processedResults" / "tabulatedVotes.csv", "w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["", *crema_d.VOTE_CODES, "fileName"])
        for row in csv.DictReader(src):
            if row["FileName"] not in numbers:
                continue
            winners = row["MultiModalVote"].split(":")
            votes = [5 * (code in winners) + (code == "N") * 2 for code in crema_d.VOTE_CODES]
            writer.writerow([300_000 + numbers[row["FileName"]], *votes, row["FileName"]])


@pytest.fixture()
def checkout(tmp_path) -> Path:
    """The real tables and media for three clips each of four actors the corpus's own split puts in train (so the
    checkout alone has no dev or test clip)."""
    root = tmp_path / "CREMA-D"
    root.mkdir()
    for table in ("SentenceFilenames.csv", "VideoDemographics.csv"):
        (root / table).symlink_to(REAL / table)
    _derived_votes(root)
    table = load_labels("crema-d", root).clips
    actors = sorted(table.loc[table["split"] == "train", "speaker"].unique())[:4]
    clips = [c for actor in actors for c in sorted(table.loc[table["speaker"] == actor, "clip_id"])[:3]]
    (root / "AudioWAV").mkdir()
    (root / "VideoFlash").mkdir()
    (root / "VideoMP4").mkdir()
    blank = np.full_like(face_image(), 128)
    for i, (clip, speech) in enumerate(zip(clips, SPEECH, strict=False)):
        (root / "AudioWAV" / f"{clip}.wav").symlink_to(speech)
        frames = [face_image(), face_image(), blank, face_image()]
        if i % 2:
            write_video(root / "VideoMP4" / f"{clip}.mp4", frames, codec="mpeg4")
        else:
            write_video(root / "VideoFlash" / f"{clip}.flv", frames)
    return root


@pytest.fixture(scope="module")
def calibrated_mobilenet(tmp_path_factory) -> Path:
    """A random MobileNetV2 whose batch-norm statistics were set on random images (pooled features ~1, not 1e-9)."""
    from torchvision.models import mobilenet_v2

    torch.manual_seed(0)
    model = mobilenet_v2(weights=None, num_classes=8)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model.features(torch.randn(4, 3, 224, 224))
    path = tmp_path_factory.mktemp("calibrated") / "mobilenet_v2_affectnet.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path


def avbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVBENCH_CACHE": str(cwd / "cache"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "avbench", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=900)


def test_partial_checkout_info_extract_available_and_run_all_models(checkout, models, calibrated_mobilenet,  # noqa: F811
                                                                     tmp_path):
    info = avbench("datasets", "info", "--dataset", "crema-d", "--root", str(checkout), cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "12/7438" in info.stdout and "AudioWAV/<clip>.wav" in info.stdout and "VideoMP4/<clip>.mp4" in info.stdout
    store = tmp_path / "stores" / "crema-d"
    extract = ["extract", "--dataset", "crema-d", "--root", str(checkout), "--out", str(store), "--device", "cpu",
               "--audio-model", str(models["wavlm"]), "--video-weights", str(calibrated_mobilenet), "--batch-size", "4"]
    refused = avbench(*extract, cwd=tmp_path)  # finding 3: no walk over 7,438 clips that fail one by one
    assert refused.returncode == 2 and "7426 of 7438 clip(s) have no audio or video file" in refused.stderr
    assert "--available" in refused.stderr and len(refused.stderr.splitlines()) <= 3
    done = avbench(*extract, "--available", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "12 of 7438 clip(s) have" in done.stderr and "dealt anew" in done.stderr
    assert "clips per split: train 6, dev 3, test 3" in done.stderr
    assert "no all-zero, constant, NaN or float16-underflowing frames" in done.stderr
    features = FeatureStore(store)
    assert len(features) == 12 and set(features.clips["split"]) == {"train", "dev", "test"}
    assert features.labelled_tasks == ("emotion",)  # CREMA-D has no dimensional ratings
    for i in range(len(features)):
        np.testing.assert_array_equal(features.present("video", i), [True, True, False, True])
    described = avbench("datasets", "info", str(store), cwd=tmp_path)
    assert described.returncode == 0, described.stderr
    digest = features.meta["extraction"]["settings"]["encoders"]["audio"]
    assert digest in described.stdout and "re-dealt over the 4 speakers" in described.stdout
    again = avbench(*extract, "--available", cwd=tmp_path)  # finding 5
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert FeatureStore(store).fingerprint == features.fingerprint
    run = avbench("run", "--dataset", str(store), "--models", "all", "--corruption", "random", "--epochs", "1",
                  "--bootstrap", "100", "--out", str(tmp_path / "run"), "--workers", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr  # finding 1: no model reaches the attributes task
    results = (tmp_path / "run" / "results.csv").read_text()
    assert "align-vw-ser" in results and "ccc_" not in results
