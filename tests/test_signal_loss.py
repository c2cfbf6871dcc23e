"""Signal-level packet loss on real media: concealment of real RAVDESS speech, video frame loss on videos of a real
face, ``avbench extract --signal-loss`` with three concealments, and ``avbench compare-loss`` on the stores it
writes — against a run directory (its report gains the comparison) and into a directory of its own.

The checkout is the CREMA-D fixture tables (tests/fixtures/crema-d) with real RAVDESS speech symlinked from the
shared sample (read in place, never copied) for 12 of its 13 clips and short face videos made here; the encoders
are a tiny random WavLM and a MobileNetV2 with calibrated batch-norm statistics (real-valued features).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from avbench.corpora.concealment import Concealment, conceal, get, lossy_frames, lost_samples
from avbench.corpora.media import load_audio
from avbench.errors import UserError
from avbench.data.store import FeatureStore

from conftest import SHARED_DATA, run_avbench
from test_extract_media import face_image, write_video

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEECH = sorted((SHARED_DATA / "ravdess-sample").glob("*.wav"))
pytestmark = pytest.mark.skipif(len(SPEECH) < 12, reason="shared RAVDESS sample not present")
PACKET, CROSSFADE = 320, 80  # 20 ms and 5 ms at 16 kHz
LEVELS = "p0-r1-k1-h0,p0.5-r0.3-k0.99-h0.2"  # the clean level and 50 % expected loss of gilbert-elliott


def half_repeat(gaps):
    """A plugin concealment: the repeated packet at half gain (what a learned model would plug in as)."""
    return 0.5 * get("repeat").fill(gaps)


HALF = Concealment("half", "repeat at half gain (test plugin)", half_repeat)


def _distance_to_loss(lost: np.ndarray) -> np.ndarray:
    index = np.arange(lost.size)
    last = np.maximum.accumulate(np.where(lost, index, -10**9))
    following = np.minimum.accumulate(np.where(lost, index, 10**9)[::-1])[::-1]
    return np.minimum(index - last, following - index)


def test_concealment_changes_the_waveform_only_inside_lost_packets_and_the_crossfade():
    wav = load_audio(SPEECH[0])
    keep = np.random.default_rng(0).random(-(-wav.size // PACKET)) > 0.3
    keep[:2] = keep[-1] = False  # a loss opening the clip and one closing it
    lost = lost_samples(keep, wav.size, PACKET)
    distance = _distance_to_loss(lost)
    for name in ("zero", "repeat", "interpolate", "test_signal_loss:HALF"):
        concealment = get(name)
        out = conceal(wav, keep, concealment, PACKET, CROSSFADE)
        assert out.dtype == np.float32 and out.shape == wav.shape and np.isfinite(out).all()
        far = distance > CROSSFADE
        np.testing.assert_array_equal(out[far], wav[far])  # bit for bit away from every loss
        assert np.any(out[lost] != wav[lost])
        peeked = wav.copy()
        peeked[lost] = 0.7  # what never arrived cannot change what the receiver plays
        np.testing.assert_array_equal(conceal(peeked, keep, concealment, PACKET, CROSSFADE), out)
    zero = conceal(wav, keep, get("zero"), PACKET, CROSSFADE)
    assert not zero[lost].any()
    repeat = conceal(wav, keep, get("repeat"), PACKET, CROSSFADE)
    first_gap = np.flatnonzero(lost & (np.arange(wav.size) > 3 * PACKET))[0]  # a gap after received packets
    np.testing.assert_array_equal(repeat[first_gap : first_gap + 10], wav[first_gap - PACKET : first_gap - PACKET + 10])
    half = conceal(wav, keep, HALF, PACKET, 0)  # a plugin, reached as package.module:NAME
    np.testing.assert_allclose(half[lost], 0.5 * conceal(wav, keep, get("repeat"), PACKET, 0)[lost], rtol=1e-6)
    np.testing.assert_array_equal(conceal(wav, np.ones_like(keep), get("repeat"), PACKET, CROSSFADE), wav)


def test_lost_video_frames_freeze_or_go_black():
    frames = [np.full((4, 4, 3), 10 * (k + 1), np.uint8) for k in range(5)]
    keep = np.array([False, True, False, False, True])
    frozen = [int(f.max()) for f in lossy_frames(iter(frames), keep, "freeze")]
    assert frozen == [0, 20, 20, 20, 50]  # nothing shown yet: black; then the last received frame
    assert [int(f.max()) for f in lossy_frames(iter(frames), keep, "black")] == [0, 20, 0, 0, 50]
    with pytest.raises(UserError, match="freeze, black"):
        list(lossy_frames(iter(frames), keep, "blur"))


# -- extract --signal-loss and compare-loss on a real-media checkout ------------------------------------------------
@pytest.fixture(scope="module")
def encoders(tmp_path_factory) -> dict[str, Path]:
    """A tiny random WavLM saved like a checkpoint, and a MobileNetV2 whose batch-norm statistics were set on random
    images (pooled features of order 1, so frozen and fresh frames can be told apart)."""
    from torchvision.models import mobilenet_v2
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("encoders")
    WavLMModel(WavLMConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                           conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                           do_stable_layer_norm=True, feat_extract_norm="layer")).save_pretrained(root / "wavlm")
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(root / "wavlm")
    model = mobilenet_v2(weights=None, num_classes=8)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        model.features(torch.randn(4, 3, 224, 224))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, root / "mobilenet.safetensors")
    return {"audio": root / "wavlm", "video": root / "mobilenet.safetensors"}


@pytest.fixture(scope="module")
def extracted(encoders, session_cache, tmp_path_factory) -> Path:
    """The clean store of 12 clips (train 8, dev 2, test 2) and its signal-level stores."""
    root = tmp_path_factory.mktemp("checkout") / "crema"
    shutil.copytree(FIXTURES / "crema-d", root)
    (root / "AudioWAV").mkdir()
    (root / "VideoFlash").mkdir()
    face = face_image()
    frames = [np.roll(face, 6 * k, axis=1) for k in range(4)]  # the face moves, so a frozen frame is visible
    clips = [line.split(",")[1].strip('"\n') for line in (root / "SentenceFilenames.csv").read_text().splitlines()[1:]]
    for clip, speech in zip([c for c in clips if not c.startswith("1076")], SPEECH):
        (root / "AudioWAV" / f"{clip}.wav").symlink_to(speech)
        write_video(root / "VideoFlash" / f"{clip}.flv", frames)
    store = root.parent / "stores" / "crema-d"
    code = run_avbench("extract", "--dataset", "crema-d", "--root", str(root), "--out", str(store), "--available",
                    "--device", "cpu", "--audio-model", str(encoders["audio"]),
                    "--video-weights", str(encoders["video"]),
                    "--dtype", "float32", "--signal-loss", f"gilbert-elliott:{LEVELS}",
                    "--concealment", "zero,repeat,interpolate", "--video-loss", "freeze")
    assert code == 0
    return store


def _signal(store: Path, concealment: str, level: str) -> FeatureStore:
    return FeatureStore(store.with_name(store.name + ".signal") / "gilbert-elliott" / concealment / level)


def test_signal_level_stores_carry_the_feature_level_loss_pattern(extracted):
    from avbench import corruptions
    from avbench.corpora.signal_loss import read_pattern
    from avbench.execution.units import digest_masks

    clean = FeatureStore(extracted)
    test = clean.split_indices("test")
    assert len(test) == 2 and len(clean) == 12
    corruption = corruptions.get("gilbert-elliott")
    for label in LEVELS.split(","):
        masks = [corruptions.masks_for(corruption, corruption.level(label), clean.timing(int(i)), 0,
                                       ("audio", "video")) for i in test]
        for concealment in ("zero", "repeat", "interpolate"):
            signal = _signal(extracted, concealment, label)
            record = signal.meta["signal_loss"]
            assert record["mask_digest"] == digest_masks(masks)  # the digest `avbench run` records for the level
            assert record["base_store"]["fingerprint"] == clean.fingerprint and record["concealment"] == concealment
            assert signal.norm == clean.norm and list(signal.clips["split"]) == ["test", "test"]
            for j, i in enumerate(test):
                for m in ("audio", "video"):
                    pattern = read_pattern(record["pattern"][str(clean.clips["clip_id"].iat[int(i)])][m])
                    np.testing.assert_array_equal(pattern, masks[j][m])
                    same = np.array_equal(signal.frames(m, j), clean.frames(m, int(i)))
                    assert same == bool(masks[j][m].all())  # features change exactly where packets were lost
            if label == "p0-r1-k1-h0":
                continue
            frozen = 0
            for j in range(2):  # a lost frame shows the last received one (the same features), black before any
                keep, video, present = masks[j]["video"], signal.frames("video", j), signal.present("video", j)
                for k in np.flatnonzero(~keep):
                    shown = np.flatnonzero(keep[:k])
                    if shown.size:
                        np.testing.assert_array_equal(video[k], video[shown[-1]])
                        frozen += 1
                    else:
                        assert not present[k] and not np.asarray(video[k]).any()  # black: no face found
            assert frozen >= 2  # this level's patterns freeze frames of both clips


def test_compare_loss_in_a_run_directory_and_on_its_own(extracted, tmp_path):
    import pandas as pd

    run = tmp_path / "run"
    assert run_avbench("run", "--dataset", str(extracted), "--models", "ser,late-fusion", "--corruption",
                    "gilbert-elliott", "--epochs", "1", "--bootstrap", "100", "--workers", "1", "--out", str(run)) == 0
    assert run_avbench("compare-loss", "--run", str(run), "--dataset", str(extracted)) == 0
    folder = run / "compare-loss"
    models = pd.read_csv(folder / "compare-loss-models.csv")
    assert sorted(set(models["model"])) == ["late-fusion", "ser"]
    assert sorted(set(models["concealment"])) == ["interpolate", "repeat", "zero"]
    levels = pd.read_csv(folder / "compare-loss-levels.csv")
    clean = levels[levels["level"] == "p0-r1-k1-h0"]
    assert len(clean) == 6 and (clean["difference"] == 0).all()  # no loss: the same features on both sides
    assert (levels["difference"] != 0).any()
    kendall = pd.read_csv(folder / "compare-loss-kendall.csv")
    assert len(kendall) == 3 and kendall["tau"].abs().le(1).all()
    assert (folder / "compare-loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Kendall" in (folder / "compare-loss.md").read_text()
    assert "Feature-level masking vs signal-level loss" in (run / "report.html").read_text()
    # the feature-level side is the run's own evaluation: the same predictions at the shared levels
    from avbench.rundir import predictions

    ours = predictions.load(predictions.path(folder, "ser", 0, "gilbert-elliott"))
    theirs = predictions.load(predictions.path(run, "ser", 0, "gilbert-elliott"))
    at = [list(theirs["levels"]).index(label) for label in ours["levels"]]
    np.testing.assert_array_equal(ours["outputs"], theirs["outputs"][at])
    np.testing.assert_array_equal(ours["mask_digests"], theirs["mask_digests"][at])
    alone = tmp_path / "alone"
    assert run_avbench("compare-loss", "--dataset", str(extracted), "--corruption", "gilbert-elliott", "--models",
                    "ser,late-fusion", "--concealment", "repeat", "--epochs", "1", "--bootstrap", "100",
                    "--out", str(alone)) == 0
    again = pd.read_csv(alone / "compare-loss-models.csv")
    pd.testing.assert_frame_equal(again.reset_index(drop=True),
                                  models[models["concealment"] == "repeat"].reset_index(drop=True))
    assert json.loads((alone / "compare-loss.json").read_text())["status"] == "complete"
    assert (alone / "compare-loss.html").is_file()


def test_compare_loss_refuses_other_loss_patterns_in_one_line(extracted, capsys):
    assert run_avbench("compare-loss", "--dataset", str(extracted), "--corruption", "gilbert-elliott", "--models", "ser",
                    "--mask-seed", "3", "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "mask seed 0" in err and "--mask-seed 0" in err and "Traceback" not in err
    assert run_avbench("compare-loss", "--dataset", str(extracted), "--corruption", "markov", "--models", "ser") == 2
    assert "no signal-level stores of markov" in capsys.readouterr().err
    lossy = _signal(extracted, "zero", LEVELS.split(",")[1]).path
    assert run_avbench("run", "--dataset", str(lossy), "--models", "ser", "--out", str(extracted.parent / "no")) == 2
    assert "is a signal-level store" in capsys.readouterr().err and not (extracted.parent / "no").exists()
