"""MSP-Podcast (Lotfian & Busso; licensed from the MSP lab), as used by the audio-text word-chunk paper (v1.10).

* ``Labels/labels_consensus.csv`` (``labels_concensus.csv`` before v1.10): FileName, EmoClass, EmoAct, EmoVal,
  EmoDom, SpkrID, Gender, Split_Set. Attributes are means of 1-7 ratings.
* ``Labels/labels_detailed.csv`` when present: one row per annotator, either as columns (WorkerID,
  EmoClass_Major, ...; v1.6) or packed in ``EmoDetail`` as ``WORKER01; Angry; Frustrated; A:5; V:2; D:4;``. The
  primary choices give vote shares over the eight primary emotions; without the file the label is the one-hot
  consensus class (all zero for "other" / "no agreement", which only matters for categorical tasks).
* ``Split_Set``: Train, Development (Validation in some releases), Test1, Test2, ... One test set is chosen;
  clips of the others are excluded.
* ``Transcripts/<name>.txt`` and ``ForceAligned/<name>.TextGrid`` (Montreal Forced Aligner) give the words and
  their times for the word-chunk models; audio is ``Audios/<FileName>``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from avbench import validate
from avbench.corpora.corpus import Corpus
from avbench.corpora.labels import CorpusLabels, clip_table, count_votes, exclude, shares
from avbench.corpora.textgrid import read_words
from avbench.errors import UserError

log = logging.getLogger("avbench.corpora")

NAME = "msp-podcast"
EMOTIONS = ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
CONSENSUS_CODES = {"A": "anger", "C": "contempt", "D": "disgust", "F": "fear", "H": "happiness", "N": "neutral",
                   "S": "sadness", "U": "surprise"}
PRIMARY_NAMES = {"angry": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
                 "happy": "happiness", "neutral": "neutral", "sad": "sadness", "surprise": "surprise"}
SPLIT_NAMES = {"Train": "train", "Development": "dev", "Validation": "dev"}
LABEL_DIRS = ("Labels", "labels", "label")
CONSENSUS_FILES = ("labels_consensus.csv", "labels_concensus.csv")
WORKER_COLUMNS = ("WorkerID", "Workers", "Worker")
REQUIRED = ("FileName", "EmoAct", "EmoVal", "EmoDom", "Split_Set")


def _labels_dir(root: Path) -> Path:
    for name in LABEL_DIRS:
        for consensus in CONSENSUS_FILES:
            if (root / name / consensus).is_file():
                return root / name
    raise UserError(f"{NAME}: no Labels/labels_consensus.csv under {root} (expected the MSP-Podcast release)")


def _consensus(labels_dir: Path) -> pd.DataFrame:
    path = next(labels_dir / n for n in CONSENSUS_FILES if (labels_dir / n).is_file())
    table = validate.corpus_table(path, NAME, REQUIRED, ["EmoAct", "EmoVal", "EmoDom"],
                                  dtype={"FileName": str, "SpkrID": str, "EmoClass": str, "Split_Set": str})
    for column, fill in (("SpkrID", "unknown"), ("EmoClass", ""), ("Gender", "")):
        table[column] = table[column].fillna(fill) if column in table.columns else fill
    return table


def _detailed_choices(path: Path) -> pd.DataFrame:
    """(FileName, worker, primary) rows from either published layout of ``labels_detailed.csv``."""
    table = validate.corpus_table(path, NAME, ["FileName"], dtype=str, keep_default_na=False)
    if "EmoDetail" in table.columns:
        parts = table["EmoDetail"].str.split(";")
        choices = pd.DataFrame({"FileName": table["FileName"], "worker": parts.str[0].str.strip(),
                                "primary": parts.str[1].str.strip()})
    else:
        worker = next((c for c in WORKER_COLUMNS if c in table.columns), None)
        if worker is None or "EmoClass_Major" not in table.columns:
            raise UserError(f"{NAME}: {path.name} has neither an EmoDetail column nor WorkerID/EmoClass_Major")
        choices = pd.DataFrame({"FileName": table["FileName"], "worker": table[worker],
                                "primary": table["EmoClass_Major"].str.strip()})
    deduplicated = choices.drop_duplicates(["FileName", "worker"])
    if len(deduplicated) < len(choices):
        log.warning("%s: dropped %d repeated annotation(s) of one worker to one file", NAME,
                    len(choices) - len(deduplicated))
    return deduplicated


def _transcript(path: Path) -> str:
    """A clip's transcript ('' when the release has none for it); text that is not UTF-8 is named, not skipped."""
    if not path.is_file():
        return ""
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise UserError(f"{NAME}: {path} is not UTF-8 text") from None


def _split(value: str, test_set: str) -> str | None:
    if value == test_set:
        return "test"
    return SPLIT_NAMES.get(value)


def load(root: str | Path, test_set: str = "Test1") -> CorpusLabels:
    """MSP-Podcast clips with attributes, vote shares, transcripts and forced alignments."""
    root = Path(root)
    labels_dir = _labels_dir(root)
    table = _consensus(labels_dir)
    published = sorted(set(table["Split_Set"]))
    if test_set not in published:
        raise UserError(f"{NAME}: test set {test_set!r} not in Split_Set (found: {', '.join(published)})")
    detailed_path = labels_dir / "labels_detailed.csv"
    votes_by_file: dict[str, np.ndarray] = {}
    raters_by_file: dict[str, int] = {}
    if detailed_path.is_file():
        choices = _detailed_choices(detailed_path)
        for name, group in choices.groupby("FileName", sort=False):
            primaries = (PRIMARY_NAMES.get(p.lower(), p) for p in group["primary"])
            votes_by_file[str(name)] = count_votes(primaries, EMOTIONS)
            raters_by_file[str(name)] = len(group)

    excluded: dict[str, str] = {}
    stems = table["FileName"].str.rsplit(".", n=1).str[0]
    splits = {str(f): _split(str(s), test_set) for f, s in zip(table["FileName"], table["Split_Set"], strict=True)}
    for other in sorted(set(table["Split_Set"]) - set(SPLIT_NAMES) - {test_set}):
        exclude(excluded, stems[table["Split_Set"] == other], f"in {other}, not the chosen test set {test_set}")
    rows = []
    for record in table.itertuples(index=False):
        file_name = str(record.FileName)
        if splits[file_name] is None:
            continue
        stem = file_name.rsplit(".", 1)[0]
        if file_name in votes_by_file:
            votes = votes_by_file[file_name]
            labels = shares(votes)
        else:
            votes = np.zeros(len(EMOTIONS), np.int64)
            labels = count_votes([CONSENSUS_CODES.get(str(record.EmoClass), "")], EMOTIONS)
        transcript = root / "Transcripts" / f"{stem}.txt"
        alignment = root / "ForceAligned" / f"{stem}.TextGrid"
        words, times = read_words(alignment) if alignment.is_file() else (None, None)
        audio = root / "Audios" / file_name
        rows.append({
            "clip_id": stem, "speaker": str(record.SpkrID), "split": splits[file_name],
            "duration": np.nan, "labels": labels.astype(np.float32), "votes": votes,
            "n_raters": float(raters_by_file.get(file_name, np.nan)),
            "attributes": np.array([record.EmoAct, record.EmoVal, record.EmoDom], np.float32),
            "text": _transcript(transcript),
            "words": words, "word_times": times,
            "audio_path": str(audio) if audio.is_file() else None, "video_path": None,
            "consensus": str(record.EmoClass), "gender": str(record.Gender),
            "split_set": str(record.Split_Set),
        })
    clips = clip_table(rows)
    if clips.empty:
        raise UserError(f"{NAME}: no clip in Train/Development/{test_set} in {root}")
    return CorpusLabels(name=NAME, emotions=list(EMOTIONS), clips=clips, excluded=excluded,
                        options={"test_set": test_set},
                        media={"audio": f"{root}/Audios/<FileName>",
                               "text": f"{root}/ForceAligned/<clip>.TextGrid"})


CORPUS = Corpus(
    name=NAME, load=load, modalities=("audio", "text"), audio_model="facebook/wav2vec2-large-robust",
    audio_layers="last", text_model="FacebookAI/roberta-base",
    description="MSP-Podcast, podcast speaking turns, arousal/valence/dominance, transcripts + alignments (licensed)",
)
