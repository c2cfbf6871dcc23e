"""Corpus registry, speaker-independent splits and the ``datasets`` CLI."""
from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from avbench import corpora
from avbench.corpora.commands import datasets_app
from avbench.corpora.labels import binarize, shares
from avbench.corpora.splits import interleaved_labels, session_fold, speaker_splits, split_counts
from avbench.errors import UserError

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_registry_lists_the_three_corpora_and_rejects_bad_input(tmp_path):
    assert corpora.names() == ["crema-d", "msp-improv", "msp-podcast"]
    assert corpora.get("msp-podcast").audio_layers == "last" and corpora.get("crema-d").audio_layers == "all"
    with pytest.raises(UserError, match="did you mean 'crema-d'"):
        corpora.load_labels("cremad", FIXTURES / "crema-d")
    with pytest.raises(UserError, match="does not exist"):
        corpora.load_labels("crema-d", tmp_path / "nowhere")
    with pytest.raises(UserError, match="option 'fold' does not apply to crema-d"):
        corpora.load_labels("crema-d", FIXTURES / "crema-d", fold=2)


def test_vote_shares_and_the_strict_one_over_c_threshold():
    np.testing.assert_allclose(shares(np.array([[6, 0, 2], [0, 0, 0]])), [[0.75, 0, 0.25], [0, 0, 0]])
    # 2 of 6 votes is exactly 1/3 for C = 3: not above the threshold
    np.testing.assert_array_equal(binarize(np.array([[4 / 6, 0.0, 2 / 6]])), [[True, False, False]])
    np.testing.assert_array_equal(binarize(np.array([[0.5, 0.0, 0.5]])), [[True, False, True]])


def test_speaker_splits_are_deterministic_order_free_and_exact():
    speakers = [f"s{i:02d}" for i in range(20)]
    first = speaker_splits(speakers, seed=3)
    assert first == speaker_splits(list(reversed(speakers)) + speakers[:5], seed=3)
    assert first != speaker_splits(speakers, seed=4)
    assert sorted(first.values()).count("train") == 14 and list(first.values()).count("test") == 3
    with pytest.raises(UserError, match="at least 3 speakers"):
        speaker_splits(["a", "b"], seed=0)
    assert split_counts(91, (0.7, 0.15, 0.15)) == [63, 14, 14]


def test_stratified_splits_spread_every_stratum_over_the_splits():
    speakers = [f"s{i:02d}" for i in range(40)]
    strata = {s: ("F" if i % 2 else "M", i % 4 // 2) for i, s in enumerate(speakers)}
    assignment = speaker_splits(speakers, seed=0, fractions=(0.5, 0.25, 0.25), strata=strata)
    for stratum in set(strata.values()):
        members = [assignment[s] for s in speakers if strata[s] == stratum]
        assert members.count("train") == 5  # half of the stratum, like the global fractions
        assert members.count("dev") in (2, 3) and members.count("test") in (2, 3)
    assert interleaved_labels([2, 1, 1]) == ["train", "dev", "test", "train"]


def test_session_folds():
    assert [session_fold(s, 6, 6) for s in range(1, 7)] == ["dev", "train", "train", "train", "train", "test"]
    with pytest.raises(UserError):
        session_fold(1, 0, 6)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(datasets_app, name="datasets")
    return app


def test_datasets_info_prints_counts_raters_prevalence_and_splits():
    result = CliRunner().invoke(_app(), ["datasets", "info", "crema-d", "--root", str(FIXTURES / "crema-d"),
                                         "--rating-modality", "audio", "--seed", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("clips", "13", "raters per clip", "label prevalence", "multi-label counts", "splits", "ODbL",
                 "rating_modality=audio", "listed as broken"):
        assert text in out, text
    improv = CliRunner().invoke(_app(), ["datasets", "info", "msp-improv", "--root", str(FIXTURES / "msp-improv"),
                                         "--fold", "3"])
    assert improv.exit_code == 0 and "fold=3" in improv.output and "arousal" in improv.output
    from avbench.cli import app as main_app

    listing = CliRunner().invoke(main_app, ["list", "datasets"], env={"COLUMNS": "200"})
    assert all(name in listing.output for name in [*corpora.names(), "synthetic", "synthetic-paper"])


def test_datasets_info_bad_input_raises_user_error(tmp_path):
    result = CliRunner().invoke(_app(), ["datasets", "info", "msp-podcast", "--root", str(tmp_path),
                                         "--rating-modality", "audio"])
    assert isinstance(result.exception, UserError) and "does not apply to msp-podcast" in str(result.exception)


def test_datasets_info_takes_the_corpus_like_extract_and_counts_media(tmp_path):
    root = tmp_path / "crema"
    shutil.copytree(FIXTURES / "crema-d", root)
    (root / "AudioWAV").mkdir()
    with wave.open(str(root / "AudioWAV" / "1001_DFA_ANG_XX.wav"), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(16000)
        fh.writeframes(bytes(3200))
    env = {"COLUMNS": "250"}
    by_option = CliRunner().invoke(_app(), ["datasets", "info", "--dataset", "crema-d", "--root", str(root)], env=env)
    positional = CliRunner().invoke(_app(), ["datasets", "info", "crema-d", "--root", str(root)], env=env)
    assert by_option.exit_code == 0 and by_option.output == positional.output
    media = by_option.output[by_option.output.index("media in the checkout"):]
    audio = next(line for line in media.splitlines() if line.strip("│ ").startswith("audio"))
    assert "1/13" in audio and "AudioWAV/<clip>.wav" in audio and f"media in the checkout {root}" in media
    video = next(line for line in media.splitlines() if line.strip("│ ").startswith("video"))
    assert "0/13" in video and "VideoFlash/<clip>.flv" in video
    both = CliRunner().invoke(_app(), ["datasets", "info", "crema-d", "--dataset", "msp-improv", "--root", str(root)])
    assert isinstance(both.exception, UserError) and "give the corpus once" in str(both.exception)
    missing = CliRunner().invoke(_app(), ["datasets", "info", "--dataset", "crema-d"])
    assert isinstance(missing.exception, UserError) and "--root" in str(missing.exception)


def test_extraction_progress_is_a_bar_on_a_terminal_and_periodic_lines_in_a_file(monkeypatch):
    import io

    from rich.console import Console

    from avbench.corpora.commands import ClipProgress
    from avbench.corpora.extract import Selection
    from avbench.corpora.labels import CorpusLabels

    selection = Selection(CorpusLabels("c", ["a"], clips=None), notes=["clips per split: train 2, dev 1, test 1"])
    clock = iter([0.0, 1.0, 2.0, 40.0, 41.0])
    monkeypatch.setattr("avbench.corpora.commands.time.monotonic", lambda: next(clock, 50.0))
    log = io.StringIO()
    with ClipProgress(Console(file=log, width=120), "extracting c") as progress:
        progress.start(selection, 4, 2)
        for done in range(1, 5):
            progress.advance(done, 4, f"clip{done}")
    lines = log.getvalue().splitlines()
    assert lines[:3] == ["loading encoders ...", "clips per split: train 2, dev 1, test 1",
                         "4 clip(s) to extract, 2 done by an earlier run"]
    assert lines[3:] == ["extracting c: 1/4 clips, 1.0 s per clip, ETA 3 s",  # the first clip at once,
                         "extracting c: 3/4 clips, 13.3 s per clip, ETA 13 s",  # then every 30 s,
                         "extracting c: 4/4 clips, 10.2 s per clip, ETA 0 s"]  # and the last
    screen = io.StringIO()
    with ClipProgress(Console(file=screen, force_terminal=True, width=120), "extracting c") as progress:
        progress.start(selection, 4, 2)
        progress.advance(4, 4, "clip4")
    assert "4/4" in screen.getvalue() and "s per clip" not in screen.getvalue()
