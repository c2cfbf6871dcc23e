"""MSP-IMPROV and MSP-Podcast loaders on hand-written fixtures in the published file formats (both licensed)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from avbench.corpora import load_labels
from avbench.corpora.msp_improv import parse_clip_id
from avbench.corpora.textgrid import parse_textgrid, read_words
from avbench.errors import UserError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
IMPROV = FIXTURES / "msp-improv"
PODCAST = FIXTURES / "msp-podcast"


def _improv_rater_lines() -> dict[str, list[str]]:
    """Rater lines per clip, straight from the fixture text, to check the loader against."""
    lines: dict[str, list[str]] = {}
    current = ""
    for line in (IMPROV / "Evaluation.txt").read_text().splitlines():
        if line.startswith("UTD-IMPROV-"):
            current = "MSP-IMPROV-" + line.split(".avi")[0].removeprefix("UTD-IMPROV-")
            lines[current] = []
        elif line.strip():
            lines[current].append(line)
    return lines


def test_improv_votes_count_each_rater_once_and_ignore_other():
    labels = load_labels("msp-improv", IMPROV)
    raw = _improv_rater_lines()
    for row in labels.clips.itertuples():
        unique = {line.split(";")[0]: line.split(";")[1].strip() for line in raw[row.clip_id]}
        if not unique:
            continue
        assert row.n_raters == len(unique)
        assert row.votes.sum() == sum(1 for choice in unique.values() if choice != "Other")
    first = labels.clips.set_index("clip_id").loc["MSP-IMPROV-S01A-F01-P-FM01"]
    assert len(raw["MSP-IMPROV-S01A-F01-P-FM01"]) == first.n_raters + 1  # one line is repeated in the file
    assert labels.emotions == ["anger", "happiness", "neutral", "sadness"]
    np.testing.assert_allclose(labels.label_matrix().sum(axis=1), 1.0, rtol=1e-6)


def test_improv_special_clips():
    labels = load_labels("msp-improv", IMPROV)
    clips = labels.clips.set_index("clip_id")
    assert labels.excluded == {"MSP-IMPROV-S04N-M02-N-MF02": "no rating among anger, happiness, neutral, sadness"}
    consensus_only = clips.loc["MSP-IMPROV-S06H-M03-S-MM03"]
    np.testing.assert_array_equal(consensus_only.labels, [0, 1, 0, 0])
    assert np.isnan(consensus_only.n_raters) and consensus_only.votes.sum() == 0
    nan_valence = clips.loc["MSP-IMPROV-S10H-M05-P-MM05"].attributes
    assert np.isnan(nan_valence[1]) and np.isfinite(nan_valence[[0, 2]]).all()
    first = clips.loc["MSP-IMPROV-S01A-F01-P-FM01"]
    np.testing.assert_allclose(first.attributes, [3.938309, 1.454688, 2.564913], rtol=1e-6)


def test_improv_file_names_are_parsed():
    info = parse_clip_id("MSP-IMPROV-S08A-F05-S-FM02")
    assert info == {"sentence": 8, "target_emotion": "anger", "sex": "F", "session": 5, "speaker": "F05",
                    "recording_type": "other-improvised", "turn": "FM02"}
    with pytest.raises(UserError, match="cannot parse"):
        parse_clip_id("MSP-IMPROV-S08A-X05")


def test_improv_folds_leave_one_session_out():
    for fold in range(1, 7):
        clips = load_labels("msp-improv", IMPROV, fold=fold).clips
        sessions = clips.groupby("split")["session"].agg(set).to_dict()
        assert sessions["test"] == {fold} and sessions["dev"] == {fold % 6 + 1}
        assert sessions["train"] == set(range(1, 7)) - {fold, fold % 6 + 1}
        assert clips.groupby("speaker")["split"].nunique().max() == 1
    with pytest.raises(UserError, match="fold must be between 1 and 6"):
        load_labels("msp-improv", IMPROV, fold=7)


def test_improv_release_spelling_and_media_layout(tmp_path):
    root = tmp_path / "MSP-IMPROV"
    (root / "Evaluation").mkdir(parents=True)
    shutil.copy(IMPROV / "Evaluation.txt", root / "Evaluation" / "Evalution.txt")
    wav = root / "Audio" / "session1" / "S01A" / "P" / "MSP-IMPROV-S01A-F01-P-FM01.wav"
    avi = root / "Video" / "session1" / "S01A" / "P" / "MSP-IMPROV-S01A-F01-P-FM01.avi"
    for path in (wav, avi):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    clips = load_labels("msp-improv", root).clips.set_index("clip_id")
    assert clips.at["MSP-IMPROV-S01A-F01-P-FM01", "audio_path"] == str(wav)
    assert clips.at["MSP-IMPROV-S01A-F01-P-FM01", "video_path"] == str(avi)
    assert clips.at["MSP-IMPROV-S02H-M01-R-MM01", "audio_path"] is None
    with pytest.raises(UserError, match="no Evaluation.txt"):
        load_labels("msp-improv", tmp_path / "MSP-IMPROV" / "Audio")


def test_podcast_splits_votes_and_attributes():
    labels = load_labels("msp-podcast", PODCAST)
    clips = labels.clips.set_index("clip_id")
    assert labels.excluded == {"MSP-PODCAST_0006_0001": "in Test2, not the chosen test set Test1"}
    assert clips["split"].value_counts().to_dict() == {"train": 5, "dev": 2, "test": 2}
    angry = clips.loc["MSP-PODCAST_0001_0001"]
    votes = dict(zip(labels.emotions, angry.votes, strict=True))
    assert votes["anger"] == 3 and votes["contempt"] == 1 and sum(votes.values()) == 4  # "Other-..." is no vote
    assert angry.n_raters == 5
    assert clips.loc["MSP-PODCAST_0001_0002"].n_raters == 6  # a repeated annotation is counted once
    np.testing.assert_allclose(angry.attributes, [5.8, 2.4, 5.2])  # EmoAct, EmoVal, EmoDom
    assert clips.loc["MSP-PODCAST_0003_0001"].speaker == "Unknown"
    other = load_labels("msp-podcast", PODCAST, test_set="Test2")
    assert other.clips.set_index("clip_id").at["MSP-PODCAST_0006_0001", "split"] == "test"
    assert set(other.excluded) == {"MSP-PODCAST_0005_0001", "MSP-PODCAST_0005_0002"}
    with pytest.raises(UserError, match="found: Development, Test1, Test2, Train"):
        load_labels("msp-podcast", PODCAST, test_set="Test3")


def test_podcast_older_releases(tmp_path):
    """v1.6-style: ``labels_concensus.csv`` and per-annotator columns; or no detailed labels at all."""
    root = tmp_path / "podcast"
    shutil.copytree(PODCAST, root)
    (root / "Labels" / "labels_consensus.csv").rename(root / "Labels" / "labels_concensus.csv")
    detailed = root / "Labels" / "labels_detailed.csv"
    rows = [line.split(",", 1) for line in detailed.read_text().splitlines()[1:]]
    columns = ["FileName,WorkerID,EmoClass_Major,EmoClass_Second,EmoAct,EmoVal,EmoDom"]
    for name, packed in rows:
        worker, primary, _second, act, val, dom = (p.strip() for p in packed.strip('"').split(";")[:6])
        columns.append(f"{name},{worker},{primary},,{act[2:]},{val[2:]},{dom[2:]}")
    detailed.write_text("\n".join(columns) + "\n")
    reference = load_labels("msp-podcast", PODCAST)
    columnar = load_labels("msp-podcast", root)
    np.testing.assert_array_equal(columnar.vote_matrix(), reference.vote_matrix())
    detailed.unlink()
    consensus = load_labels("msp-podcast", root).clips.set_index("clip_id")
    np.testing.assert_array_equal(consensus.at["MSP-PODCAST_0004_0001", "labels"], [0, 0, 0, 0, 0, 0, 0, 1])
    assert consensus.at["MSP-PODCAST_0002_0002", "labels"].sum() == 0  # "X": no agreement
    assert np.isnan(consensus.at["MSP-PODCAST_0004_0001", "n_raters"])


def test_podcast_words_from_forced_alignments():
    clips = load_labels("msp-podcast", PODCAST).clips.set_index("clip_id")
    long_format = clips.loc["MSP-PODCAST_0001_0001"]
    assert long_format.words == ["kids", "are", "talking", "by", "the", "door"]
    np.testing.assert_allclose(long_format.word_times[:2], [[0.1, 0.45], [0.55, 0.9]])
    short_format = clips.loc["MSP-PODCAST_0002_0001"]  # short TextGrid format ending in a "sil" interval
    assert short_format.words == ["kids", "are", "talking", "by", "the", "door"]
    np.testing.assert_allclose(short_format.word_times[-1], [2.2, 2.6])
    assert clips.loc["MSP-PODCAST_0003_0001"].words is None  # no TextGrid for this clip
    assert clips.loc["MSP-PODCAST_0003_0001"].text == "Kids are talking by the door"


def test_textgrid_reader_edge_cases(tmp_path):
    source = (PODCAST / "ForceAligned" / "MSP-PODCAST_0001_0001.TextGrid").read_text()
    tiers = parse_textgrid(source)
    assert [t.name for t in tiers] == ["words", "phones"] and len(tiers[0].items) == 13
    utf16 = tmp_path / "utf16.TextGrid"
    utf16.write_bytes(source.replace('"kids"', '"café"').encode("utf-16"))
    assert read_words(utf16)[0][0] == "café"
    with pytest.raises(UserError, match="not a readable TextGrid"):
        parse_textgrid('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<exists>\n2\n', "broken")
