"""Sharded extraction: a local process pool and Ray workers write the same store, byte for byte, as one process."""
from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from avbench.corpora import get
from avbench.corpora.commands import extract
from avbench.corpora.extract import ExtractConfig, run_extraction
from avbench.corpora.sharding import extract_sharded, shards

from test_extract_pipeline import _three_clips, crema_root, models, pytestmark  # noqa: F401 (fixtures)


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture()
def single(models, crema_root, tmp_path) -> Path:  # noqa: F811
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    report = run_extraction(_three_clips(crema_root), tmp_path / "single", config, device="cpu", batch_size=3)
    assert report.store is not None and report.extracted == 3
    return report.store


def test_shards_deal_every_clip_once(crema_root):  # noqa: F811
    labels = _three_clips(crema_root)
    dealt = shards(labels, 2)
    assert [len(s) for s in dealt] == [2, 1]
    assert sorted(c for s in dealt for c in s.clips["clip_id"]) == sorted(labels.clips["clip_id"])
    assert len(shards(labels, 10)) == 3 and len(labels) == 3  # never an empty shard; the input is untouched


def test_local_pool_through_the_cli_writes_the_single_process_store(models, crema_root, single, tmp_path):  # noqa: F811
    app = typer.Typer()
    app.command("extract")(extract)
    app.command("unused")(lambda: None)
    out = tmp_path / "pool"
    labels = _three_clips(crema_root)
    result = CliRunner().invoke(app, ["extract", "--dataset", "crema-d", "--root", str(crema_root), "--out", str(out),
                                      "--audio-model", str(models["wavlm"]), "--video-weights", str(models["video"]),
                                      "--device", "cpu", "--batch-size", "3", "--workers", "2", "--skip-failed"])
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
                            executor="ray", workers=2)
    assert report.extracted == 3 and report.failures == {}
    assert _files(report.store) == _files(single)


def test_local_pool_resumes_and_matches_the_single_process_store(models, crema_root, single, tmp_path):  # noqa: F811
    config = ExtractConfig.for_corpus(get("crema-d"), audio_model=str(models["wavlm"]),
                                      video_weights=str(models["video"]))
    labels = _three_clips(crema_root)
    interrupted = _three_clips(crema_root)
    interrupted.clips = labels.clips.iloc[:1].reset_index(drop=True)
    (tmp_path / "pool.parts").mkdir()
    extract_sharded(interrupted, tmp_path / "pool.parts", config, "cpu", 3, "local", 1)  # one part, no store
    report = run_extraction(labels, tmp_path / "pool", config, device="cpu", batch_size=3, workers=2)
    assert (report.reused, report.extracted, report.failures) == (1, 2, {})
    assert _files(report.store) == _files(single)
