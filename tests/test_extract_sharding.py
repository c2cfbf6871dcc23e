"""Extraction at scale: batched encoder calls match one-clip calls, and a local process pool and Ray workers write
the same store, byte for byte, as one process."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from avbench.corpora import get
from avbench.corpora.commands import extract
from avbench.corpora.extract import ExtractConfig, run_extraction
from avbench.corpora.sharding import extract_sharded, shards

from test_extract_pipeline import CPU, _three_clips, crema_root, models, pytestmark  # noqa: F401 (fixtures)


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture()
def single(models, crema_root, tmp_path) -> Path:  # noqa: F811
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    report = run_extraction(_three_clips(crema_root), tmp_path / "single", config, device="cpu", batch_size=3,
                            clips_per_call=2)
    assert report.store is not None and report.extracted == 3
    return report.store


def test_shards_deal_every_clip_once(crema_root):  # noqa: F811
    labels = _three_clips(crema_root)
    ids = labels.clips["clip_id"].tolist()
    assert [s.clips["clip_id"].tolist() for s in shards(labels, 2)] == [[ids[0], ids[2]], [ids[1]]]
    assert [s.clips["clip_id"].tolist() for s in shards(labels, 2, clips_per_call=2)] == [ids[:2], ids[2:]]
    assert len(shards(labels, 10)) == 3 and len(labels) == 3  # never an empty shard; the input is untouched


def test_local_pool_through_the_cli_writes_the_single_process_store(models, crema_root, single, tmp_path):  # noqa: F811
    app = typer.Typer()
    app.command("extract")(extract)
    app.command("unused")(lambda: None)
    out = tmp_path / "pool"
    labels = _three_clips(crema_root)
    result = CliRunner().invoke(app, ["extract", "--dataset", "crema-d", "--root", str(crema_root), "--out", str(out),
                                      "--audio-model", str(models["wavlm"]), "--video-weights", str(models["video"]),
                                      "--device", "cpu", "--batch-size", "3", "--workers", "2", "--clips-per-call", "2",
                                      "--available", "--skip-failed"])
    assert result.exit_code == 0, result.output
    store_ids = (out / "clips.csv").read_text()
    for clip in labels.clips["clip_id"]:
        assert clip in store_ids
    assert not (tmp_path / "pool.parts").exists()


def test_ray_workers_write_the_single_process_store(models, crema_root, single, tmp_path):  # noqa: F811
    pytest.importorskip("ray", reason="the ray extra is not installed")
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    report = run_extraction(_three_clips(crema_root), tmp_path / "ray", config, device="cpu", batch_size=3,
                            executor="ray", workers=2, clips_per_call=2)
    assert report.extracted == 3 and report.failures == {}
    assert _files(report.store) == _files(single)


def test_local_pool_resumes_and_matches_the_single_process_store(models, crema_root, single, tmp_path):  # noqa: F811
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    labels = _three_clips(crema_root)
    interrupted = _three_clips(crema_root)
    interrupted.clips = labels.clips.iloc[:2].reset_index(drop=True)  # the first group is done, no store yet
    (tmp_path / "pool.parts").mkdir()
    extract_sharded(interrupted, tmp_path / "pool.parts", config, "cpu", 3, "local", 1, clips_per_call=2)
    report = run_extraction(labels, tmp_path / "pool", config, device="cpu", batch_size=3, workers=2,
                            clips_per_call=2)
    assert (report.reused, report.extracted, report.failures) == (2, 1, {})
    assert _files(report.store) == _files(single)


def test_batched_encoder_calls_match_one_clip_calls(models):  # noqa: F811
    from avbench.corpora.encoders import AudioEncoder, TextEncoder

    rng = np.random.default_rng(0)
    wavs = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 9000, 23000)]
    for name, layers in (("wavlm", "all"), ("wav2vec2", "last")):  # masked batch; group norm: one clip per call
        encoder = AudioEncoder(str(models[name]), layers, CPU)
        for alone, together in zip([encoder(w) for w in wavs], encoder.batch(wavs), strict=True):
            assert alone.shape == together.shape
            np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-4)
    text = TextEncoder(str(models["roberta"]), CPU)
    sentences = [["kids", "are", "talking", "by", "the", "door"], [], ["dogs", "are", "sitting"]]
    for alone, together in zip([text(s) for s in sentences], text.batch(sentences), strict=True):
        assert alone.shape == together.shape
        np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


def test_a_failing_clip_in_a_group_fails_alone(models, crema_root, tmp_path):  # noqa: F811
    import wave

    short = crema_root / "AudioWAV" / "1003_TIE_FEA_XX.wav"
    short.unlink()
    with wave.open(str(short), "wb") as fh:  # 10 ms: too short for the encoder, so the group's call fails
        fh.setnchannels(1), fh.setsampwidth(2), fh.setframerate(16000)
        fh.writeframes(np.zeros(160, np.int16).tobytes())
    config = ExtractConfig.for_corpus(get("crema-d"), modalities=("audio",), audio_model=str(models["wavlm"]))
    report = run_extraction(_three_clips(crema_root), tmp_path / "store", config, device="cpu", clips_per_call=3,
                            skip_failed=True)
    assert list(report.failures) == ["1003_TIE_FEA_XX"] and report.extracted == 2
    assert "needs 25 ms" in report.failures["1003_TIE_FEA_XX"]
