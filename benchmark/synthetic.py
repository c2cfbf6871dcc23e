"""The embedded ``synthetic`` dataset: a CREMA-D-like corpus generated from a seed, so avbench runs anywhere.

No real emotion corpus can ship with the package, so this generator builds one whose structure makes robustness
effects real rather than noise:

* **Raters, not labels.** Each clip expresses a latent mixture of emotions; 6–12 simulated raters each pick one
  emotion from that mixture passed through a confusion matrix (anger↔disgust, fear↔sadness, anything↔neutral).
  The vote share is the distributional label, so even a perfect model cannot reach F1 = 1.
* **Evidence in time.** Emotional evidence lives in 1–3 segments covering part of each clip; losing frames removes
  evidence gradually, and bursty (Markov) loss hurts more when it swallows a segment.
* **Evidence across modalities.** Anger, fear and sadness are mostly vocal, happiness and disgust mostly facial,
  neutral in between; so a lost modality hurts without destroying, and fusion beats either modality alone.
* **Evidence across audio layers.** The signal peaks in the upper-middle "SSL layers" (like WavLM), which is what
  a learnable layer weighted sum is for.
* **Speakers.** Each speaker adds a fixed offset to every modality, and splits are speaker-independent.
* **Words.** Words have start/end times and embeddings (word identity plus emotion in emotional segments), so
  word-chunking and word-drop act on real alignments.

``tiny`` uses small dimensions for a CPU; ``paper`` uses the papers' shapes (25 × 1024 audio, 1280 video, 768 text)
on fewer clips, for scale and speed checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbench.cache import cache_dir
from avbench.store import FeatureStore, StoreWriter

GENERATOR_VERSION = 2
EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
SYNTHETIC_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "tiny": {"audio": (5, 32), "video": (32,), "text": (32,)},
    "paper": {"audio": (25, 1024), "video": (1280,), "text": (768,)},
}
AUDIO_RATE, VIDEO_RATE = 50.0, 30.0

# How strongly each emotion shows in each modality (rows follow EMOTIONS): the vocal/facial split above.
MODALITY_WEIGHT = {
    "audio": np.array([1.0, 0.35, 1.0, 0.35, 0.7, 1.0]),
    "video": np.array([0.35, 1.0, 0.35, 1.0, 0.7, 0.35]),
    "text": np.array([0.35, 0.35, 0.35, 0.35, 0.35, 0.35]),
}
# Arousal, valence, dominance prototypes (1–7 scale) per emotion.
AVD_PROTOTYPE = np.array(
    [[6.0, 2.0, 6.0], [4.2, 2.2, 4.6], [5.6, 2.4, 2.4], [5.4, 6.0, 5.0], [3.4, 4.0, 4.0], [2.4, 2.4, 2.4]]
)
SENTENCES = (
    "it is eleven o'clock", "that is exactly what happened", "i'm on my way to the meeting",
    "i wonder what this is about", "the airplane is almost full", "maybe tomorrow it will be cold",
    "i would like a new alarm clock", "i think i have a doctor's appointment", "don't forget a jacket",
    "i think i've seen this before", "the surface is slick", "we'll stop in a couple of minutes",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty knobs; the defaults are calibrated so good models land near the papers' range."""

    n_clips: int = 1200
    n_speakers: int = 24
    split_speakers: tuple[int, int, int] = (14, 4, 6)  # train, dev, test
    min_duration: float = 1.0
    max_duration: float = 5.0
    signal: float = 0.9  # evidence amplitude inside emotional segments
    background: float = 0.12  # evidence amplitude outside them
    noise: float = 3.5  # per-frame noise: low per-frame SNR, so evidence must be pooled over many frames
    speaker_offset: float = 0.3
    words_per_second: float = 2.6


def _confusion() -> np.ndarray:
    """Rater confusion: who picks what when the expressed emotion is the row's."""
    c = np.eye(len(EMOTIONS)) * 0.78
    pairs = [(0, 1), (2, 5)]  # anger↔disgust, fear↔sadness
    for a, b in pairs:
        c[a, b] += 0.10
        c[b, a] += 0.10
    c[:, 4] += 0.08  # anything ↔ neutral
    c[4, :] += 0.04
    c += 0.01
    return c / c.sum(axis=1, keepdims=True)


def _segments(rng: np.random.Generator, duration: float) -> np.ndarray:
    """1–3 emotional segments as (start, end) seconds, covering roughly 25–60 % of the clip."""
    k = int(rng.integers(1, 4))
    lengths = rng.uniform(0.25, 0.6, size=k) * duration / k * 1.6
    starts = rng.uniform(0, np.maximum(duration - lengths, 1e-3))
    return np.stack([starts, np.minimum(starts + lengths, duration)], axis=1)


def _envelope(times: np.ndarray, segments: np.ndarray, background: float) -> np.ndarray:
    """Evidence amplitude at each time: 1 inside a segment (soft edges), ``background`` elsewhere."""
    inside = np.zeros_like(times)
    for start, end in segments:
        edge = 0.08
        rise = np.clip((times - start) / edge + 0.5, 0, 1)
        fall = np.clip((end - times) / edge + 0.5, 0, 1)
        inside = np.maximum(inside, np.minimum(rise, fall))
    return background + (1.0 - background) * inside


def _words(rng: np.random.Generator, duration: float, rate: float) -> tuple[list[str], np.ndarray]:
    """Words of one of the fixed sentences, laid out over the clip with short pauses."""
    sentence = SENTENCES[int(rng.integers(len(SENTENCES)))].split()
    n = max(1, min(len(sentence), int(round(duration * rate))))
    words = sentence[:n]
    lead, tail = rng.uniform(0.05, 0.2, size=2) * min(duration, 1.0)
    span = max(duration - lead - tail, 0.1)
    weights = rng.uniform(0.6, 1.4, size=n) * np.array([len(w) + 2 for w in words])
    bounds = lead + span * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    gaps = rng.uniform(0.0, 0.04, size=n)
    times = np.stack([bounds[:-1] + gaps, np.maximum(bounds[1:] - gaps, bounds[:-1] + gaps + 0.02)], axis=1)
    return words, np.clip(times, 0.0, duration).astype(np.float32)


class _Generator:
    """Holds the corpus-wide random structure (emotion directions, speakers, vocabulary) for one seed."""

    def __init__(self, variant: str, seed: int, cfg: SyntheticConfig) -> None:
        self.shapes = SYNTHETIC_SHAPES[variant]
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        a_layers, a_dim = self.shapes["audio"]
        latent = 32  # evidence lives in a 32-d space, projected to each modality's width
        self.emotion_dirs = {m: rng.normal(size=(len(EMOTIONS), latent)) for m in ("audio", "video", "text")}
        for dirs in self.emotion_dirs.values():
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True) / np.sqrt(latent) * 1.0
        self.project = {
            "audio": rng.normal(size=(latent, a_dim)) / np.sqrt(latent),
            "video": rng.normal(size=(latent, self.shapes["video"][0])) / np.sqrt(latent),
            "text": rng.normal(size=(latent, self.shapes["text"][0])) / np.sqrt(latent),
        }
        depth = np.linspace(0, 1, a_layers)
        self.layer_gain = np.exp(-((depth - 0.65) ** 2) / 0.08)  # evidence peaks in upper-middle layers
        self.layer_gain = 0.25 + 0.75 * self.layer_gain / self.layer_gain.max()
        self.speakers = {
            m: rng.normal(size=(cfg.n_speakers, self.shapes[m][-1])) * cfg.speaker_offset
            for m in ("audio", "video", "text")
        }
        vocab = sorted({w for s in SENTENCES for w in s.split()})
        self.vocab = {w: rng.normal(size=self.shapes["text"][0]) for w in vocab}
        self.confusion = _confusion()

    def clip_labels(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Latent expressed mixture, rater votes, attributes and intensity for one clip."""
        primary = int(rng.choice(len(EMOTIONS), p=[0.17, 0.16, 0.16, 0.17, 0.18, 0.16]))
        secondary = int(rng.integers(len(EMOTIONS)))
        blend = rng.uniform(0.0, 0.45) if rng.random() < 0.5 else 0.0
        mixture = np.zeros(len(EMOTIONS))
        mixture[primary] += 1.0 - blend
        mixture[secondary] += blend
        n_raters = int(rng.integers(6, 13))
        perceived = mixture @ self.confusion
        votes = rng.multinomial(n_raters, perceived / perceived.sum())
        intensity = float(rng.uniform(0.6, 1.4))
        attributes = mixture @ AVD_PROTOTYPE
        attributes[0] += (intensity - 1.0) * 2.0  # stronger expression → higher arousal
        attributes = np.clip(attributes + rng.normal(scale=0.45, size=3), 1.0, 7.0)
        return mixture, votes, attributes, intensity

    def modality_frames(self, rng: np.random.Generator, modality: str, times: np.ndarray, mixture: np.ndarray,
                        intensity: float, segments: np.ndarray, speaker: int) -> np.ndarray:
        cfg = self.cfg
        evidence = (mixture * MODALITY_WEIGHT[modality]) @ self.emotion_dirs[modality]  # (latent,)
        env = _envelope(times, segments, cfg.background) * cfg.signal * intensity
        signal = (env[:, None] * evidence[None, :]) @ self.project[modality]  # (T, dim)
        base = signal + self.speakers[modality][speaker]
        if modality == "audio":
            layers = self.shapes["audio"][0]
            noise = rng.normal(scale=cfg.noise, size=(len(times), layers, base.shape[1]))
            return (base[:, None, :] * self.layer_gain[None, :, None] + noise).astype(np.float32)
        return (base + rng.normal(scale=cfg.noise, size=base.shape)).astype(np.float32)


def generate(path: str | Path, variant: str = "tiny", seed: int = 0, config: SyntheticConfig | None = None) -> FeatureStore:
    """Generate the dataset into ``path`` (atomically) and return it opened."""
    cfg = config or (SyntheticConfig() if variant == "tiny" else SyntheticConfig(n_clips=48, n_speakers=8,
                                                                              split_speakers=(4, 2, 2)))
    gen = _Generator(variant, seed, cfg)
    rng = gen.rng
    order = rng.permutation(cfg.n_speakers)
    n_train, n_dev, _ = cfg.split_speakers
    split_of = {}
    for rank, spk in enumerate(order):
        split_of[int(spk)] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    writer = StoreWriter(
        path,
        name="synthetic" if variant == "tiny" else "synthetic-paper",
        emotions=EMOTIONS,
        modalities={
            "audio": {"rate": AUDIO_RATE, "shape": list(gen.shapes["audio"])},
            "video": {"rate": VIDEO_RATE, "shape": list(gen.shapes["video"])},
            "text": {"rate": 0.0, "shape": list(gen.shapes["text"])},
        },
        extra_meta={"generator": {"variant": variant, "seed": seed, "version": GENERATOR_VERSION}},
    )
    try:
        for i in range(cfg.n_clips):
            speaker = i % cfg.n_speakers
            duration = float(np.round(rng.uniform(cfg.min_duration, cfg.max_duration), 2))
            mixture, votes, attributes, intensity = gen.clip_labels(rng)
            segments = _segments(rng, duration)
            t_audio = (np.arange(int(round(duration * AUDIO_RATE))) + 0.5) / AUDIO_RATE
            t_video = (np.arange(int(round(duration * VIDEO_RATE))) + 0.5) / VIDEO_RATE
            words, word_times = _words(rng, duration, cfg.words_per_second)
            audio = gen.modality_frames(rng, "audio", t_audio, mixture, intensity, segments, speaker)
            video = gen.modality_frames(rng, "video", t_video, mixture, intensity, segments, speaker)
            centres = word_times.mean(axis=1)
            text = gen.modality_frames(rng, "text", centres, mixture, intensity, segments, speaker)
            text += np.stack([gen.vocab[w] for w in words]).astype(np.float32)
            writer.add(
                clip_id=f"syn{i:05d}_spk{speaker:02d}",
                speaker=f"spk{speaker:02d}",
                split=split_of[speaker],
                duration=duration,
                frames={"audio": audio, "video": video, "text": text},
                labels=votes / votes.sum(),
                votes=votes,
                attributes=attributes,
                word_times=word_times,
                words=words,
            )
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def load(variant: str = "tiny", seed: int = 0) -> FeatureStore:
    """The cached synthetic store for ``variant`` and ``seed``, generating it on first use."""
    path = cache_dir() / "datasets" / f"synthetic-{variant}-seed{seed}-v{GENERATOR_VERSION}"
    if (path / "meta.json").is_file():
        return FeatureStore(path)
    return generate(path, variant=variant, seed=seed)
