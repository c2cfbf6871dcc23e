"""The embedded dataset: deterministic, CREMA-D-like, speaker-independent, and labelled by simulated raters."""
from __future__ import annotations

import numpy as np

from avbench.synthetic import EMOTIONS, SyntheticConfig, generate


def test_shape_of_the_corpus(synthetic):
    store = synthetic
    assert store.emotions == list(EMOTIONS)
    assert 1100 <= len(store) <= 1300
    assert store.clips["speaker"].nunique() == 24
    durations = store.clips["duration"].to_numpy()
    assert durations.min() >= 1.0 and durations.max() <= 5.0
    spec = store.modalities
    assert spec["audio"]["rate"] == 50 and spec["video"]["rate"] == 30
    assert tuple(spec["audio"]["shape"]) == (5, 32)
    i = 7
    assert store.frames("audio", i).shape[0] == round(durations[i] * 50)
    assert store.frames("video", i).shape[0] == round(durations[i] * 30)
    times = store.word_times(i)
    assert len(times) == len(store.words(i)) >= 1
    assert np.all(times[:, 1] > times[:, 0]) and times.max() <= durations[i] + 1e-6


def test_splits_are_speaker_independent(synthetic):
    speakers = synthetic.clips.groupby("split")["speaker"].apply(set)
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["dev"])
    assert not (speakers["dev"] & speakers["test"])


def test_labels_are_rater_vote_shares(synthetic):
    votes = np.asarray(synthetic.votes)
    raters = votes.sum(axis=1)
    assert raters.min() >= 6 and raters.max() <= 12
    np.testing.assert_allclose(np.asarray(synthetic.labels), votes / raters[:, None], rtol=1e-6)
    binary = np.asarray(synthetic.labels) > 1 / 6
    assert 1.2 < binary.sum(axis=1).mean() < 2.0  # genuinely multi-label, like CREMA-D
    assert binary.any(axis=1).all()
    attributes = np.asarray(synthetic.attributes)
    assert attributes.min() >= 1 and attributes.max() <= 7


def test_confusions_are_realistic(synthetic):
    """Anger is confused with disgust far more often than with happiness."""
    labels = np.asarray(synthetic.labels)
    anger = labels[:, 0] == labels.max(axis=1)
    assert labels[anger, 1].mean() > 2 * labels[anger, 3].mean()


def test_generation_is_deterministic(tmp_path):
    small = SyntheticConfig(n_clips=24, n_speakers=6, split_speakers=(4, 1, 1))
    a = generate(tmp_path / "a", seed=3, config=small)
    b = generate(tmp_path / "b", seed=3, config=small)
    c = generate(tmp_path / "c", seed=4, config=small)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    np.testing.assert_array_equal(a.frames("audio", 5), b.frames("audio", 5))


def test_paper_variant_has_the_papers_shapes(tmp_path):
    small = SyntheticConfig(n_clips=3, n_speakers=3, split_speakers=(1, 1, 1), max_duration=1.2)
    store = generate(tmp_path / "p", variant="paper", config=small)
    assert store.frames("audio", 0).shape[1:] == (25, 1024)
    assert store.frames("video", 0).shape[1:] == (1280,)
    assert store.frames("text", 0).shape[1:] == (768,)
