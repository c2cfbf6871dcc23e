"""The feature store round-trips clips exactly, streams from disk, and appears atomically."""
from __future__ import annotations

import numpy as np
import pytest

from avbench.errors import UserError
from avbench.data.store import FeatureStore, StoreWriter


def _write(path, n=6, fail_at=None):
    rng = np.random.default_rng(0)
    writer = StoreWriter(path, "toy", ["a", "b"], {"audio": {"rate": 50.0, "shape": [3, 4]},
                                                 "video": {"rate": 30.0, "shape": [5]}})
    clips = []
    for i in range(n):
        if i == fail_at:
            writer.abort()
            raise RuntimeError("interrupted")
        audio = rng.normal(size=(10 + i, 3, 4)).astype(np.float16)
        video = rng.normal(size=(6 + i, 5)).astype(np.float16)
        present = {"video": np.arange(6 + i) % 3 != 0}
        writer.add(f"c{i}", f"s{i % 3}", ["train", "dev", "test"][i % 3], 0.2 + i * 0.01,
                   {"audio": audio, "video": video}, labels=np.array([0.75, 0.25]), votes=np.array([6, 2]),
                   attributes=np.array([1.0, 2.0, 3.0]), word_times=np.array([[0.0, 0.1]]), words=["hi"],
                   present=present)
        clips.append((audio, video, present["video"]))
    return writer.close(), clips


def test_round_trip(tmp_path):
    store, clips = _write(tmp_path / "store")
    assert len(store) == 6 and store.emotions == ["a", "b"]
    for i, (audio, video, present) in enumerate(clips):
        np.testing.assert_array_equal(store.frames("audio", i), audio)
        np.testing.assert_array_equal(store.frames("video", i), video)
        np.testing.assert_array_equal(store.present("video", i), present)
        assert store.present("audio", i).all()
        assert store.words(i) == ["hi"]
    assert isinstance(store._frames["audio"], np.memmap)
    assert list(store.split_indices("test")) == [2, 5]
    timing = store.timing(1)
    assert timing.clip_id == "c1" and timing.n_frames["audio"] == 11 and timing.n_words == 1
    assert len(store.norm["audio"]["mean"]) == 12  # per layer × dim, train split only


def test_fingerprint_is_content_based(tmp_path):
    a, _ = _write(tmp_path / "a")
    b, _ = _write(tmp_path / "b")
    c, _ = _write(tmp_path / "c", n=5)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_interrupted_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        _write(tmp_path / "store", fail_at=3)
    assert not (tmp_path / "store").exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_store_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no feature store"):
        FeatureStore(tmp_path)


def test_shape_mismatch_rejected(tmp_path):
    writer = StoreWriter(tmp_path / "s", "toy", ["a"], {"video": {"rate": 30.0, "shape": [5]}})
    with pytest.raises(ValueError, match="shape"):
        writer.add("c", "s", "train", 1.0, {"video": np.zeros((3, 4))})
    writer.abort()
