"""CREMA-D from a checkout of https://github.com/CheyneyComputerScience/CREMA-D.

Ratings come in two forms:

* ``processedResults/tabulatedVotes.csv`` — vote counts after the upstream script dropped responses whose first
  click came more than 10 s after the clip. Its row id is ``100000 * modality + clip number`` (1 audio-only,
  2 video-only, 3 audio-visual; clip number = ``Stimulus_Number`` of ``SentenceFilenames.csv``).
* ``finishedResponses.csv`` — one row per response, before that filter. The RAVER paper's 9.84 raters per clip
  (6 to 12) are counted from these, so they are preferred when the checkout has them (``votes="auto"``).

Four clips are broken according to the upstream README and are excluded. The sentence text is fixed by the
second field of the file name. Speakers are actors (first field); splits are speaker-independent.
"""
from __future__ import annotations

import logging
import os
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from avbench import validate
from avbench.corpora.corpus import Corpus
from avbench.corpora.labels import CorpusLabels, clip_table, count_votes, empty_attributes, exclude, shares
from avbench.corpora.media import lfs_pointer_size
from avbench.corpora.splits import DEFAULT_FRACTIONS, speaker_splits
from avbench.data.vocabulary import CREMA_D_EMOTIONS
from avbench.errors import UserError, unknown

log = logging.getLogger("avbench.corpora")

NAME = "crema-d"
EMOTIONS = list(CREMA_D_EMOTIONS)
VOTE_CODES = ["A", "D", "F", "H", "N", "S"]  # column / response letters, in EMOTIONS order
RATING_MODALITIES = {"audio": 1, "video": 2, "audio-visual": 3}  # upstream queryType
VOTE_SOURCES = ("auto", "raw", "tabulated")
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
ACTED_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral",
                  "SAD": "sadness"}
BROKEN_CLIPS = {
    "1076_MTI_NEU_XX": "upstream README: very short, no audio",
    "1076_MTI_SAD_XX": "upstream README: error picture, no audio, very short",
    "1064_TIE_SAD_XX": "upstream README: file has no duration",
    "1064_IEO_DIS_MD": "upstream README: actually 1 minute long with all emotional displays of the sentence",
}
ATTRIBUTION = (
    "Contains information from CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset), "
    "https://github.com/CheyneyComputerScience/CREMA-D, made available under the ODbL 1.0 "
    "(http://opendatacommons.org/licenses/odbl/1.0/); contents under the DbCL 1.0. "
    "Cao et al., IEEE Trans. Affective Computing 5(4):377-390, 2014, doi:10.1109/TAFFC.2014.2336244."
)
AUDIO_LAYOUT = (("AudioWAV", ".wav"),)
# upstream ships FLV; many mirrors and users hold MP4 copies, beside the FLVs or in their own folder
VIDEO_LAYOUT = (("VideoFlash", ".flv"), ("VideoFlash", ".mp4"), ("VideoMP4", ".mp4"))
WAV_HEADER_BYTES = 44  # AudioWAV files are 16 kHz, 16-bit mono PCM with a canonical header (LFS sizes)
WAV_BYTES_PER_SECOND = 32_000


def _require(path: Path) -> Path:
    if not path.is_file():
        raise UserError(f"{NAME}: {path} is missing (expected a checkout of the CREMA-D repository)")
    return path


def _clip_names(root: Path) -> pd.Series:
    table = validate.corpus_table(_require(root / "SentenceFilenames.csv"), NAME, ["Stimulus_Number", "Filename"],
                                  ["Stimulus_Number"], dtype={"Filename": str})
    validate.name_parts(table["Filename"], 4, f"{NAME}: SentenceFilenames.csv")
    return table.set_index("Stimulus_Number")["Filename"]


def _tabulated_votes(root: Path, modality: int, names: pd.Series) -> dict[str, np.ndarray]:
    table = validate.corpus_table(_require(root / "processedResults" / "tabulatedVotes.csv"), NAME,
                                  [*VOTE_CODES, "fileName"], VOTE_CODES)
    table = table.rename(columns={table.columns[0]: "row_id"})
    validate.numeric_columns(table, ["row_id"], f"{NAME}: tabulatedVotes.csv")
    ids = pd.to_numeric(table["row_id"], errors="raise").astype(np.int64)
    table = table[ids // 100_000 == modality]
    clip_numbers = ids[table.index] % 100_000
    expected = names.reindex(clip_numbers.to_numpy()).to_numpy()
    mismatched = table["fileName"].to_numpy() != expected
    if mismatched.any():
        bad = table["fileName"].to_numpy()[mismatched][:3]
        raise UserError(f"{NAME}: tabulatedVotes.csv row ids disagree with SentenceFilenames.csv for {list(bad)}")
    counts = table[VOTE_CODES].to_numpy(np.int64)
    return dict(zip(table["fileName"], counts, strict=True))


def _raw_votes(root: Path, modality: int) -> dict[str, np.ndarray]:
    """One vote per rater, clip and modality from the unfiltered responses."""
    path = _require(root / "finishedResponses.csv")
    columns = ["localid", "queryType", "clipName", "respEmo"]
    table = validate.corpus_table(path, NAME, columns, low_memory=False)
    table = table[pd.to_numeric(table["queryType"], errors="coerce") == modality]
    deduplicated = table.drop_duplicates(["localid", "clipName"])
    if len(deduplicated) < len(table):
        log.warning("%s: dropped %d repeated response(s) of one rater to one clip in finishedResponses.csv",
                    NAME, len(table) - len(deduplicated))
    return {
        str(clip): count_votes(group["respEmo"].astype(str), VOTE_CODES)
        for clip, group in deduplicated.groupby("clipName", sort=True)
    }


def _wav_seconds(path: Path) -> float:
    pointer = lfs_pointer_size(path)
    if pointer is not None:
        return (pointer - WAV_HEADER_BYTES) / WAV_BYTES_PER_SECOND
    with wave.open(str(path), "rb") as fh:
        return fh.getnframes() / fh.getframerate()


def _durations(root: Path) -> dict[str, float]:
    """Seconds per clip from ``AudioWAV``: real files, Git LFS pointers, or the derived LFS manifest's sizes."""
    durations: dict[str, float] = {}
    manifest = root / "derived" / "media_lfs_manifest.csv"
    if manifest.is_file():
        table = validate.corpus_table(manifest, NAME, ["path", "size_bytes"], ["size_bytes"])
        wav = table[table["path"].str.startswith("AudioWAV/")]
        seconds = (wav["size_bytes"].astype(np.int64) - WAV_HEADER_BYTES) / WAV_BYTES_PER_SECOND
        durations.update(zip(wav["path"].str.slice(9, -4), seconds.astype(float), strict=True))
    audio_dir = root / "AudioWAV"
    if audio_dir.is_dir():
        durations.update((path.stem, _wav_seconds(path)) for path in audio_dir.glob("*.wav"))
    return durations


def _layout_text(root: Path, layout: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{root}/{folder}/<clip>{suffix}" for folder, suffix in layout)


def _media_finder(root: Path, layout: tuple[tuple[str, str], ...]) -> Callable[[str], str | None]:
    """clip id -> the first file of ``layout`` the checkout has (folders are listed once, not probed per clip)."""
    listed = {folder: set(os.listdir(root / folder)) if (root / folder).is_dir() else set() for folder, _ in layout}

    def find(clip: str) -> str | None:
        for folder, suffix in layout:
            if clip + suffix in listed[folder]:
                return str(root / folder / (clip + suffix))
        return None

    return find


def _demographics(root: Path) -> pd.DataFrame:
    table = validate.corpus_table(_require(root / "VideoDemographics.csv"), NAME, ["ActorID", "Age", "Sex"], ["Age"])
    table["ActorID"] = table["ActorID"].astype(str)
    return table.set_index("ActorID")


def _strata(demographics: pd.DataFrame, actors: list[str]) -> dict[str, tuple[str, int]]:
    """Sex × age tercile (terciles over the actors in the table), the groups the split balances."""
    ages = demographics.loc[actors, "Age"].astype(float)
    edges = np.quantile(ages.to_numpy(), [1 / 3, 2 / 3])
    return {a: (str(demographics.at[a, "Sex"]), int(np.searchsorted(edges, ages[a], side="right"))) for a in actors}


def load(
    root: str | Path,
    rating_modality: str = "audio-visual",
    seed: int = 0,
    balance: bool = True,
    votes: str = "auto",
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
) -> CorpusLabels:
    """CREMA-D clips with vote-share labels for one rating modality and an actor-independent split."""
    root = Path(root)
    if rating_modality not in RATING_MODALITIES:
        raise unknown("rating modality", rating_modality, RATING_MODALITIES)
    if votes not in VOTE_SOURCES:
        raise unknown("vote source", votes, VOTE_SOURCES)
    modality = RATING_MODALITIES[rating_modality]
    names = _clip_names(root)
    use_raw = votes == "raw" or (votes == "auto" and (root / "finishedResponses.csv").is_file())
    counts = _raw_votes(root, modality) if use_raw else _tabulated_votes(root, modality, names)
    demographics = _demographics(root)
    durations = _durations(root)

    excluded: dict[str, str] = {}
    exclude(excluded, [c for c in names if c in BROKEN_CLIPS], "listed as broken in the upstream README")
    exclude(excluded, [c for c in names if c not in BROKEN_CLIPS and c not in counts],
            f"no {rating_modality} ratings")
    exclude(excluded, [c for c in names if c not in excluded and counts[c].sum() == 0],
            f"no {rating_modality} vote for one of the six emotions")
    kept = sorted(c for c in names if c not in excluded)
    unknown_actors = sorted({c.split("_")[0] for c in kept} - set(demographics.index))
    if unknown_actors:
        raise UserError(f"{NAME}: actor(s) {', '.join(unknown_actors[:5])} missing from VideoDemographics.csv")

    audio_file, video_file = _media_finder(root, AUDIO_LAYOUT), _media_finder(root, VIDEO_LAYOUT)
    rows = []
    for clip in kept:
        actor, sentence, acted, level = clip.split("_")
        if sentence not in SENTENCES:
            raise UserError(f"{NAME}: unknown sentence code {sentence!r} in clip name {clip!r}")
        text = SENTENCES[sentence]
        rows.append({
            "clip_id": clip, "speaker": actor, "split": "", "duration": durations.get(clip, np.nan),
            "labels": shares(counts[clip]), "votes": counts[clip], "n_raters": float(counts[clip].sum()),
            "attributes": empty_attributes(), "text": text, "words": text.split(), "word_times": None,
            "audio_path": audio_file(clip), "video_path": video_file(clip),
            "sentence": sentence, "acted_emotion": ACTED_EMOTIONS.get(acted, acted), "level": level,
            "sex": str(demographics.at[actor, "Sex"]), "age": float(demographics.at[actor, "Age"]),
        })
    clips = clip_table(rows)
    actors = sorted(clips["speaker"].unique())
    strata = _strata(demographics, actors) if balance else None
    assignment = speaker_splits(actors, seed=seed, fractions=fractions, strata=strata)
    clips["split"] = clips["speaker"].map(assignment)
    return CorpusLabels(
        name=NAME, emotions=list(EMOTIONS), clips=clips, excluded=excluded, attribution=ATTRIBUTION,
        options={"rating_modality": rating_modality, "seed": seed, "balance": balance,
                 "votes": "raw" if use_raw else "tabulated", "fractions": list(fractions)},
        media={"audio": _layout_text(root, AUDIO_LAYOUT), "video": _layout_text(root, VIDEO_LAYOUT)},
    )


CORPUS = Corpus(
    name=NAME, load=load, modalities=("audio", "video"), audio_model="microsoft/wavlm-large", audio_layers="all",
    description="CREMA-D, 91 actors, 6 emotions, crowd-sourced audio/video/audio-visual ratings (ODbL)",
)
