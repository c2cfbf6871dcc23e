"""MSP-IMPROV (Busso et al., 2017; licensed from the MSP lab).

``Evaluation.txt`` (spelled ``Evalution.txt`` in some releases) lists every clip as a consensus line::

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.400000; V:2.200000; D:3.600000 ; N:2.800000;

followed by one line per rater::

    <rater id>; Angry; <secondary emotions>; A:4.000000; V:2.000000; D:4.000000; N:3.000000;

File names encode ``S<sentence><target emotion>-<sex><session>-<recording type>-<turn>`` with recording types
P (target sentence, improvised), R (target sentence, read), S (other improvised turns) and N (natural
interaction). The vote shares use the raters' primary choices among the four emotions of the papers; "Other"
votes count as raters but not as votes. Folds are leave-one-session-out: one session is test, the next one dev,
the remaining four train. Media live under ``Audio/session<k>/...`` and ``Video/session<k>/...``.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from avbench.corpora.corpus import Corpus
from avbench.corpora.labels import CorpusLabels, clip_table, count_votes, exclude, shares
from avbench.corpora.media import index_media
from avbench.corpora.splits import session_fold
from avbench.errors import UserError

log = logging.getLogger("avbench.corpora")

NAME = "msp-improv"
EMOTIONS = ["anger", "happiness", "neutral", "sadness"]
N_SESSIONS = 6
CONSENSUS_CODES = {"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness"}
RATER_CHOICES = {"angry": "anger", "happy": "happiness", "neutral": "neutral", "sad": "sadness"}
RECORDING_TYPES = {"P": "target-improvised", "R": "target-read", "S": "other-improvised", "N": "natural"}
EVALUATION_FILES = ("Evaluation.txt", "Evalution.txt")
_CLIP = re.compile(r"^(?:MSP|UTD)-IMPROV-S(\d{2})([A-Z])-([FM])(\d{2})-([A-Z])-([A-Z]+\d+)$")
_SCORE = re.compile(r"^([AVDN])\s*:\s*(\S+)$")


def _evaluation_file(root: Path) -> Path:
    for name in EVALUATION_FILES:
        for candidate in (root / name, *sorted(root.glob(f"*/{name}"))):
            if candidate.is_file():
                return candidate
    raise UserError(f"{NAME}: no Evaluation.txt under {root} (expected the MSP-IMPROV release)")


def _scores(fields: list[str], where: str) -> dict[str, float]:
    found = {}
    for part in fields:
        match = _SCORE.match(part)
        if match:
            try:
                found[match.group(1)] = float(match.group(2))  # float("NaN") is NaN
            except ValueError:
                raise UserError(f"{where}: {match.group(1)} score {match.group(2)!r} is not a number") from None
    return found


def parse_evaluation(path: Path) -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    """Consensus entries and per-rater primary choices (deduplicated by rater) keyed by MSP-IMPROV clip id."""
    consensus: dict[str, dict] = {}
    raters: dict[str, dict[str, str]] = defaultdict(dict)
    current: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = [f.strip() for f in line.split(";")]
        fields = [f for f in fields if f]
        if len(fields) < 2:
            continue
        if fields[0].lower().endswith((".avi", ".wav")):
            current = "MSP-IMPROV-" + fields[0].rsplit(".", 1)[0].split("-IMPROV-", 1)[-1]
            consensus[current] = {"code": fields[1], **_scores(fields[2:], f"{path}:{number}")}
        elif current is None:
            raise UserError(f"{path}:{number}: rater line before any clip line")
        else:
            raters[current].setdefault(fields[0], fields[1].strip().lower())
    return consensus, raters


def parse_clip_id(clip_id: str) -> dict[str, object]:
    match = _CLIP.match(clip_id)
    if match is None:
        raise UserError(f"{NAME}: cannot parse clip name {clip_id!r}")
    sentence, target, sex, session, kind, turn = match.groups()
    return {"sentence": int(sentence), "target_emotion": CONSENSUS_CODES.get(target, target),
            "sex": sex, "session": int(session), "speaker": f"{sex}{session}",
            "recording_type": RECORDING_TYPES.get(kind, kind), "turn": turn}


def load(root: str | Path, fold: int = 1) -> CorpusLabels:
    """MSP-IMPROV clips with four-emotion vote shares and the leave-one-session-out split ``fold`` (1-6)."""
    root = Path(root)
    session_fold(1, fold, N_SESSIONS)  # validates ``fold`` before any parsing
    consensus, raters = parse_evaluation(_evaluation_file(root))
    audio = index_media(root, [".wav"])
    video = index_media(root, [".avi"])
    no_votes: list[str] = []
    rows = []
    for clip in sorted(consensus):
        entry = consensus[clip]
        choices = raters.get(clip, {})
        if choices:
            votes = count_votes((RATER_CHOICES.get(c, c) for c in choices.values()), EMOTIONS)
            n_raters = float(len(choices))
        else:  # consensus only: a one-hot label with no rater counts behind it
            votes = np.zeros(len(EMOTIONS), np.int64)
            n_raters = np.nan
        labels = shares(votes) if choices else count_votes([CONSENSUS_CODES.get(entry["code"], "")], EMOTIONS)
        if labels.sum() == 0:
            no_votes.append(clip)
            continue
        info = parse_clip_id(clip)
        rows.append({
            "clip_id": clip, "speaker": info["speaker"],
            "split": session_fold(int(info["session"]), fold, N_SESSIONS), "duration": np.nan,
            "labels": labels.astype(np.float32), "votes": votes, "n_raters": n_raters,
            "attributes": np.array([entry.get(k, np.nan) for k in "AVD"], np.float32),
            "text": "", "words": None, "word_times": None,
            "audio_path": str(audio[clip]) if clip in audio else None,
            "video_path": str(video[clip]) if clip in video else None,
            "consensus": entry["code"], **info,
        })
    excluded: dict[str, str] = {}
    exclude(excluded, no_votes, "no rating among anger, happiness, neutral, sadness")
    only_consensus = sum(1 for c in consensus if c not in raters)
    if only_consensus:
        log.warning("%s: %d clip(s) have no rater lines; their label is the one-hot consensus", NAME, only_consensus)
    clips = clip_table(rows)
    if clips.empty:
        raise UserError(f"{NAME}: no usable clip in {root}")
    return CorpusLabels(name=NAME, emotions=list(EMOTIONS), clips=clips, excluded=excluded, options={"fold": fold},
                        media={"audio": f"{root}/**/<clip>.wav", "video": f"{root}/**/<clip>.avi"})


CORPUS = Corpus(
    name=NAME, load=load, modalities=("audio", "video"), audio_model="microsoft/wavlm-large", audio_layers="all",
    description="MSP-IMPROV, 12 actors in 6 dyadic sessions, 4 emotions (licensed)",
)
