"""CREMA-D loader: the real public rating tables (when the shared copy is present) and a hand-written fixture.

The real tables are ODbL data (see /work/shared/data/crema-d/ATTRIBUTION.md); they are read in place, never
copied. The fixture under tests/fixtures/crema-d has invented ratings in the exact published file formats.
"""
from __future__ import annotations

import csv
import logging
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from avbench.corpora import crema_d, load_labels
from avbench.errors import UserError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "crema-d"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "crema-d"
needs_real = pytest.mark.skipif(not (REAL / "processedResults" / "tabulatedVotes.csv").is_file(),
                                reason="shared CREMA-D tables not present")


@pytest.fixture(scope="module")
def real():
    return load_labels("crema-d", REAL)


def _tabulated_row(row_id: str) -> dict[str, str]:
    with open(REAL / "processedResults" / "tabulatedVotes.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row[""] == row_id:
                return row
    raise AssertionError(f"row {row_id} not in tabulatedVotes.csv")


@needs_real
def test_real_tables_give_7438_clips_of_91_actors_without_the_broken_four(real):
    assert len(real) == 7438
    assert real.clips["speaker"].nunique() == 91
    assert set(real.excluded) == set(crema_d.BROKEN_CLIPS)
    assert not set(real.clips["clip_id"]) & set(crema_d.BROKEN_CLIPS)
    assert real.options["votes"] == "tabulated"  # the shared copy has no finishedResponses.csv
    assert "ODbL" in real.attribution


@needs_real
@pytest.mark.parametrize("modality,prefix", [("audio", "1"), ("video", "2"), ("audio-visual", "3")])
def test_real_votes_follow_the_upstream_row_id_scheme(modality, prefix):
    labels = load_labels("crema-d", REAL, rating_modality=modality)
    clips = labels.clips.set_index("clip_id")
    for number, clip in ((1, "1001_IEO_NEU_XX"), (5162, "1064_IEO_DIS_MD"), (7442, None)):
        row = _tabulated_row(f"{prefix}{number:05d}")
        if clip is not None:
            assert row["fileName"] == clip
        if row["fileName"] in crema_d.BROKEN_CLIPS:
            assert row["fileName"] in labels.excluded
            continue
        expected = np.array([int(row[c]) for c in crema_d.VOTE_CODES])
        np.testing.assert_array_equal(clips.at[row["fileName"], "votes"], expected)
        assert clips.at[row["fileName"], "n_raters"] == int(row["numResponses"])
        np.testing.assert_allclose(clips.at[row["fileName"], "labels"], expected / expected.sum(), rtol=1e-6)


@needs_real
def test_real_labels_are_vote_shares_binarised_above_one_sixth(real):
    shares = real.label_matrix()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(real.binary(), shares > 1 / 6)
    assert real.binary().any(axis=1).all()  # every clip has at least one emotion
    assert (real.binary().sum(axis=1) > 1).sum() > 1000  # and many carry several


@needs_real
def test_real_durations_match_the_paper_statistics(real):
    # RAVER: "an average duration of 2.54 seconds (the maximal duration is 5.01 seconds)"
    durations = real.clips["duration"].to_numpy()
    assert np.isfinite(durations).all()
    assert float(durations.mean()) == pytest.approx(2.54, abs=0.005)
    assert float(durations.max()) == pytest.approx(5.01, abs=0.005)


@needs_real
def test_real_split_is_actor_independent_deterministic_and_balanced(real):
    clips = real.clips
    assert clips.groupby("speaker")["split"].nunique().max() == 1
    actors = clips.drop_duplicates("speaker")
    assert actors["split"].value_counts().to_dict() == {"train": 63, "dev": 14, "test": 14}
    again = load_labels("crema-d", REAL)
    assert again.clips["split"].tolist() == clips["split"].tolist()
    other_seed = load_labels("crema-d", REAL, seed=1)
    assert other_seed.clips["split"].tolist() != clips["split"].tolist()
    female = (actors["sex"] == "Female").mean()
    median_age = actors["age"].median()
    for split, group in actors.groupby("split"):
        assert abs((group["sex"] == "Female").mean() - female) < 0.15, split
        assert abs((group["age"] > median_age).mean() - 0.5) < 0.2, split


@needs_real
def test_real_sentence_text_comes_from_the_file_name(real):
    clips = real.clips.set_index("clip_id")
    assert clips.at["1001_DFA_ANG_XX", "text"] == "Don't forget a jacket"
    assert clips.at["1091_WSI_SAD_XX", "words"] == ["We'll", "stop", "in", "a", "couple", "of", "minutes"]
    assert clips.at["1001_DFA_ANG_XX", "acted_emotion"] == "anger"


def test_fixture_prefers_raw_responses_before_the_ten_second_filter(caplog):
    with caplog.at_level(logging.WARNING, logger="avbench.corpora"):
        raw = load_labels("crema-d", FIXTURE)
    tabulated = load_labels("crema-d", FIXTURE, votes="tabulated")
    assert raw.options["votes"] == "raw" and tabulated.options["votes"] == "tabulated"
    # the fixture's raw file holds every tabulated response plus one slow (ttr > 10 s) response per clip
    np.testing.assert_array_equal(raw.vote_matrix().sum(1) - tabulated.vote_matrix().sum(1), 1)
    assert raw.excluded == {"1076_MTI_SAD_XX": "listed as broken in the upstream README"}
    assert "1076_MTI_SAD_XX" in caplog.text


def test_fixture_counts_a_repeated_response_once():
    raw = load_labels("crema-d", FIXTURE, rating_modality="audio")
    tabulated = load_labels("crema-d", FIXTURE, rating_modality="audio", votes="tabulated")
    # 1001_DFA_ANG_XX has one response listed twice in finishedResponses.csv
    clip = raw.clips["clip_id"] == "1001_DFA_ANG_XX"
    assert raw.vote_matrix()[clip.to_numpy()].sum() - tabulated.vote_matrix()[clip.to_numpy()].sum() == 1


def test_fixture_split_keeps_each_actor_in_one_split_and_balances_sex():
    labels = load_labels("crema-d", FIXTURE, seed=4)
    actors = labels.clips.drop_duplicates("speaker").set_index("speaker")
    assert sorted(actors["split"].value_counts().to_dict().items()) == [("dev", 1), ("test", 1), ("train", 5)]
    unbalanced = load_labels("crema-d", FIXTURE, seed=4, balance=False)
    assert unbalanced.options["balance"] is False
    assert unbalanced.clips.groupby("speaker")["split"].nunique().max() == 1


def test_bad_inputs_raise_user_errors(tmp_path):
    with pytest.raises(UserError, match="did you mean 'audio-visual'"):
        load_labels("crema-d", FIXTURE, rating_modality="audio-visiual")
    with pytest.raises(UserError, match="SentenceFilenames.csv is missing"):
        load_labels("crema-d", tmp_path)
    root = tmp_path / "crema"
    shutil.copytree(FIXTURE, root)
    (root / "finishedResponses.csv").unlink()
    with pytest.raises(UserError, match="finishedResponses.csv is missing"):
        load_labels("crema-d", root, votes="raw")
    votes = root / "processedResults" / "tabulatedVotes.csv"
    votes.write_text(votes.read_text().replace('"1001_IEO_FEA_HI"', '"1001_IEO_FEA_LO"', 1))
    with pytest.raises(UserError, match="row ids disagree"):  # the edited row is an audio-only rating
        load_labels("crema-d", root, rating_modality="audio")


def test_durations_from_wav_headers_and_lfs_pointers(tmp_path):
    root = tmp_path / "crema"
    shutil.copytree(FIXTURE, root)
    (root / "AudioWAV").mkdir()
    with wave.open(str(root / "AudioWAV" / "1001_DFA_ANG_XX.wav"), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(16000)
        fh.writeframes(np.zeros(24000, np.int16).tobytes())
    (root / "AudioWAV" / "1002_IEO_DIS_XX.wav").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 64044\n")
    clips = load_labels("crema-d", root).clips.set_index("clip_id")
    assert clips.at["1001_DFA_ANG_XX", "duration"] == pytest.approx(1.5)
    assert clips.at["1002_IEO_DIS_XX", "duration"] == pytest.approx(2.0)
    assert clips.at["1001_DFA_ANG_XX", "audio_path"].endswith("1001_DFA_ANG_XX.wav")
    assert np.isnan(clips.at["1003_TIE_FEA_XX", "duration"]) and clips.at["1003_TIE_FEA_XX", "audio_path"] is None
