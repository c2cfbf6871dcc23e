"""The embedded ``synthetic`` dataset: a CREMA-D-like corpus generated from a seed, so avbench runs anywhere.

No real emotion corpus can ship with the package, so this generator builds one from first principles of real
recordings, calibrated to published statistics of real data (:mod:`avbench.data.reference_data`); ``avbench datasets
realism synthetic`` measures how close it comes.

* **Raters, not labels.** Each clip expresses a latent mixture of emotions with a clarity; raters (as many per
  clip as CREMA-D has) vote from the perceived mixture, which blurs towards confusable emotions (anger↔disgust,
  fear↔sadness, anything↔neutral) as clarity drops. Primary-emotion rates, blend rate and the clarity
  distribution are fitted to CREMA-D's label prevalence and cardinality (1 / 2 / 3+ emotions above 1/C).
* **Smooth time.** Frames are the sum of slowly varying processes: speaker and utterance offsets, a slow
  within-clip drift, and "content" (what is said, how the mouth moves): a new random pattern per syllable
  (about 5 per second, shared by voice and face) smoothed by coarticulation. Audio frames at 50 Hz then have a
  lag-1 autocorrelation near that of log-spectral speech features: an isolated lost frame is mostly recoverable
  from its neighbours, a burst that swallows a syllable is not.
* **Evidence in events and dynamics.** Emotion shows in 1–3 expressive events per clip (smooth onsets and
  offsets) and in an utterance-level contour whose shape depends on the emotion (rising for anger, falling for
  sadness, a late lift for happiness, …): the contour averages out over the whole clip, so part of the evidence
  is only visible to a model that knows where in time a frame lies.
* **Coupled modalities.** Audio and face share the events, the face shifted by up to ±120 ms, each event
  expressed with its own strength per modality and sometimes in one modality only: partly redundant, partly
  complementary. Anger, fear and sadness are mostly vocal; happiness and disgust mostly facial; video is
  noisier, so audio-only is ahead of video-only by about as much as in RAVER's Table 3.
* **Audio layers.** The evidence peaks in the upper-middle "SSL layers" (like WavLM's), which is what a
  learnable layer weighted sum is for.
* **Words.** The CREMA-D sentences, sometimes framed by an interjection or an affect word whose polarity
  follows the clip's valence ("great", "awful", …): lexical content is informative about valence. Word vectors
  are the word's embedding plus a sentence-level (contextual) share of that lexical valence.

``tiny`` uses small dimensions for a CPU; ``paper`` uses the papers' shapes (25 × 1024 audio, 1280 video, 768 text)
on fewer clips, for scale and speed checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbench.cache import cache_dir
from avbench.data.reference_data import CREMA_D_DURATION, CREMA_D_RATERS
from avbench.data.store import FeatureStore, StoreWriter
from avbench.data.vocabulary import CREMA_D_EMOTIONS, SYNTHETIC_SHAPES

GENERATOR_VERSION = 3
EMOTIONS = CREMA_D_EMOTIONS
AUDIO_RATE, VIDEO_RATE = 50.0, 30.0

# Label model, fitted once (common random numbers, 40,000 simulated clips) so that vote shares reproduce
# CREMA_D_PREVALENCE and CREMA_D_CARDINALITY; tests/test_synthetic.py checks the generated corpus against them.
PRIMARY_RATE = np.array([0.098, 0.254, 0.240, 0.156, 0.140, 0.112])  # P(primary emotion), EMOTIONS order
BLEND_PROBABILITY = 0.2  # a second emotion mixed in with weight U(0.1, 0.5)
CLARITY_BETA = (4.0, 1.5)  # clarity γ ~ Beta: perceived = γ·mixture + (1-γ)·(mixture @ CONFUSABLE)

# How strongly each emotion shows in each modality (EMOTIONS order): the vocal/facial split above.
MODALITY_WEIGHT = {
    "audio": np.array([1.0, 0.45, 1.0, 0.6, 0.7, 1.0]),
    "video": np.array([0.45, 1.0, 0.45, 1.0, 0.7, 0.45]),
}
# Utterance contour of each emotion: coefficients of cos(πu) and cos(2πu), u = time / duration (zero mean).
CONTOUR = np.array([[-1.0, 0.0], [0.0, -1.0], [0.7, 0.7], [-0.6, 0.8], [0.0, 0.0], [1.0, 0.0]])
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
AFFECT_WORDS = {1.0: ("great", "wonderful", "finally", "lovely", "yes"),
                -1.0: ("ugh", "terrible", "awful", "no", "sadly")}
FILLERS = ("well", "so", "okay", "oh")


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty knobs; the defaults give a test split whose 95 % macro-F1 intervals are about ±0.02."""

    n_clips: int = 1500
    n_speakers: int = 30
    split_speakers: tuple[int, int, int] = (14, 4, 12)  # train, dev, test
    signal: float = 1.5  # evidence amplitude at the peak of an expressive event
    background: float = 0.15  # evidence amplitude between events
    contour: float = 0.6  # amplitude of the emotion's utterance contour
    noise: dict[str, float] | None = None  # content-variation amplitude per modality (default NOISE)
    syllable: float = 0.2  # mean syllable length (s): content changes at about 5 Hz
    coarticulation: float = 0.6  # AR(1) smoothing of content at 50 Hz
    drift: float = 0.99  # lag-1 autocorrelation at 50 Hz of a slow within-clip drift
    drift_share: float = 0.1  # drift amplitude relative to the content
    white: float = 0.25  # per-frame (white) noise amplitude relative to the content
    speaker_offset: float = 0.25
    utterance_offset: float = 0.1
    events: tuple[int, int] = (1, 3)  # expressive events per clip (min, max)
    event_width: tuple[float, float] = (0.3, 0.8)  # seconds, onset to offset
    max_face_lag: float = 0.12  # seconds the face may lead or lag the voice
    words_per_second: float = 2.6


NOISE = {"audio": 0.8, "video": 1.6, "text": 0.35}


def confusable() -> np.ndarray:
    """Where perception drifts when an expression is unclear (row: expressed emotion; rows sum to one)."""
    c = np.full((len(EMOTIONS), len(EMOTIONS)), 0.01)
    for a, b in [(0, 1), (2, 5)]:  # anger↔disgust, fear↔sadness
        c[a, b] += 0.10
        c[b, a] += 0.10
    c[:, 4] += 0.08  # anything ↔ neutral
    c[4, :] += 0.04
    np.fill_diagonal(c, 0.0)
    return c / c.sum(axis=1, keepdims=True)


def _ar1(gain: float, rho: float, x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``y[t] = rho * y[t-1] + gain * x[t]`` along axis 0, with ``y[0] = gain * x[0] + start``.

    scipy.signal is imported here, not at the top: it costs ~1.7 s, and only generating the corpus needs it, not
    every process (each run worker) that opens the cached store.
    """
    from scipy.signal import lfilter  # deferred: scipy

    out, _ = lfilter([gain], [1.0, -rho], x, axis=0, zi=start)
    return out


def _smooth_noise(rng: np.random.Generator, n: int, width: int, rho: float) -> np.ndarray:
    """(n, width) stationary AR(1) processes with unit variance and lag-1 autocorrelation ``rho``."""
    eps = rng.normal(size=(n, width))
    start = rng.normal(size=(1, width)) * rho
    return _ar1(np.sqrt(1 - rho**2), rho, eps, start)


def _bump(times: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Raised-cosine event of total ``width`` seconds around ``centre``: smooth onset and offset."""
    phase = np.clip((times - centre) / width, -0.5, 0.5)
    return 0.5 * (1 + np.cos(2 * np.pi * phase))


def _duration(rng: np.random.Generator) -> float:
    """Clip length from a log-normal with CREMA-D's mean and spread, inside its range."""
    mean, std = CREMA_D_DURATION["mean"], CREMA_D_DURATION["std"]
    sigma2 = np.log(1 + (std / mean) ** 2)
    value = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2))
    return float(np.round(np.clip(value, CREMA_D_DURATION["min"], CREMA_D_DURATION["max"]), 2))


@dataclass(frozen=True)
class Events:
    """Expressive events of one clip: centres and widths (s) and each modality's strength per event."""

    centres: np.ndarray
    widths: np.ndarray
    strength: dict[str, np.ndarray]
    face_lag: float

    def envelope(self, modality: str, times: np.ndarray, background: float) -> np.ndarray:
        shifted = times - (self.face_lag if modality == "video" else 0.0)
        peak = np.zeros_like(times)
        for centre, width, gain in zip(self.centres, self.widths, self.strength[modality]):
            peak = np.maximum(peak, gain * _bump(shifted, centre, width))
        return background + (1.0 - background) * peak


def _events(rng: np.random.Generator, duration: float, cfg: SyntheticConfig) -> Events:
    k = int(rng.integers(cfg.events[0], cfg.events[1] + 1))
    widths = rng.uniform(*cfg.event_width, size=k)
    centres = rng.uniform(0.15, 0.85, size=k) * duration
    strength = {m: rng.uniform(0.35, 1.0, size=k) for m in ("audio", "video")}
    solo = rng.random(k) < 0.25  # some events show in one modality only
    silent = np.where(rng.random(k) < 0.5, "audio", "video")
    for m in ("audio", "video"):
        strength[m][solo & (silent == m)] = 0.0
    return Events(centres, widths, strength, float(rng.uniform(-cfg.max_face_lag, cfg.max_face_lag)))


def _words(rng: np.random.Generator, duration: float, rate: float,
           valence: float) -> tuple[list[str], np.ndarray, float]:
    """Words of one sentence, maybe framed by a filler or an affect word, laid out over the clip.

    Returns the words, their (start, end) times and the clip's lexical valence (+1, −1 or 0).
    """
    sentence = SENTENCES[int(rng.integers(len(SENTENCES)))].split()
    polarity = 0.0
    extra: list[str] = []
    if rng.random() < min(0.9, abs(valence - 4.0) / 2.0):
        polarity = float(np.sign(valence - 4.0)) * (1.0 if rng.random() < 0.85 else -1.0)
        extra.append(str(rng.choice(AFFECT_WORDS[polarity])))
    elif rng.random() < 0.3:
        extra.append(str(rng.choice(FILLERS)))
    n = max(1, min(len(sentence), int(round(duration * rate)) - len(extra)))
    words = extra + sentence[:n] if rng.random() < 0.5 else sentence[:n] + extra
    n = len(words)
    lead, tail = rng.uniform(0.05, 0.2, size=2) * min(duration, 1.0)
    span = max(duration - lead - tail, 0.1)
    weights = rng.uniform(0.6, 1.4, size=n) * np.array([len(w) + 2 for w in words])
    bounds = lead + span * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    gaps = rng.uniform(0.0, 0.04, size=n)
    times = np.stack([bounds[:-1] + gaps, np.maximum(bounds[1:] - gaps, bounds[:-1] + gaps + 0.02)], axis=1)
    return words, np.clip(times, 0.0, duration).astype(np.float32), polarity


class _Generator:
    """Holds the corpus-wide random structure (emotion directions, speakers, vocabulary) for one seed."""

    def __init__(self, variant: str, seed: int, cfg: SyntheticConfig) -> None:
        self.shapes = SYNTHETIC_SHAPES[variant]
        self.cfg = cfg
        self.noise = {**NOISE, **(cfg.noise or {})}
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        a_layers, _ = self.shapes["audio"]
        latent = 32  # evidence lives in a 32-d space, projected to each modality's width

        def directions(n: int) -> np.ndarray:
            dirs = rng.normal(size=(n, latent))
            return dirs / np.linalg.norm(dirs, axis=1, keepdims=True) * np.sqrt(latent)

        self.level_dirs = {m: directions(len(EMOTIONS)) for m in ("audio", "video")}
        self.contour_dirs = {m: directions(len(EMOTIONS)) for m in ("audio", "video")}
        self.project = {m: rng.normal(size=(latent, self.shapes[m][-1])) / np.sqrt(latent)
                        for m in ("audio", "video", "text")}
        depth = np.linspace(0, 1, a_layers)
        gain = np.exp(-((depth - 0.65) ** 2) / 0.08)  # evidence peaks in upper-middle layers
        self.layer_gain = 0.25 + 0.75 * gain / gain.max()
        self.speakers = {m: rng.normal(size=(cfg.n_speakers, self.shapes[m][-1])) * cfg.speaker_offset
                         for m in ("audio", "video", "text")}
        vocab = sorted({w for s in SENTENCES for w in s.split()} | {w for ws in AFFECT_WORDS.values() for w in ws}
                       | set(FILLERS))
        self.vocab = {w: rng.normal(size=self.shapes["text"][0]) for w in vocab}
        self.valence_dir = directions(1)[0] @ self.project["text"]
        self.confusable = confusable()
        self.raters = np.array(list(CREMA_D_RATERS)), np.array(list(CREMA_D_RATERS.values()))

    def clip_labels(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Perceived mixture, rater votes, attributes and intensity for one clip."""
        n = len(EMOTIONS)
        primary = int(rng.choice(n, p=PRIMARY_RATE / PRIMARY_RATE.sum()))
        mixture = np.zeros(n)
        mixture[primary] = 1.0
        if rng.random() < BLEND_PROBABILITY:
            secondary = int(rng.choice(n, p=self.confusable[primary]))
            blend = rng.uniform(0.1, 0.5)
            mixture *= 1.0 - blend
            mixture[secondary] += blend
        clarity = rng.beta(*CLARITY_BETA)
        perceived = clarity * mixture + (1 - clarity) * (mixture @ self.confusable)
        values, shares = self.raters
        votes = rng.multinomial(int(rng.choice(values, p=shares / shares.sum())), perceived)
        intensity = float(rng.uniform(0.6, 1.4))
        attributes = perceived @ AVD_PROTOTYPE
        attributes[0] += (intensity - 1.0) * 2.0  # stronger expression → higher arousal
        attributes = np.clip(attributes + rng.normal(scale=0.45, size=3), 1.0, 7.0)
        return perceived, votes, attributes, intensity

    def _content(self, rng: np.random.Generator, modality: str, times: np.ndarray, syllables: np.ndarray,
                 width: int) -> np.ndarray:
        """Nuisance variation: what is being said (or mouthed), a new random pattern per syllable.

        Syllable boundaries are shared by voice and face (visemes follow phones); coarticulation smooths the
        transitions with an AR(1) on the 50 Hz clock; a slow drift and a little per-frame noise come on top.
        """
        cfg = self.cfg
        rate = AUDIO_RATE if modality == "audio" else VIDEO_RATE
        which = np.searchsorted(syllables, times)
        pattern = rng.normal(size=(len(syllables) + 1, width))[which]
        rho = cfg.coarticulation ** (AUDIO_RATE / rate)
        smooth = _ar1(1 - rho, rho, pattern, pattern[:1] * rho)
        drift = _smooth_noise(rng, len(times), width, cfg.drift ** (AUDIO_RATE / rate))
        white = rng.normal(size=(len(times), width))
        return self.noise[modality] * (smooth + cfg.drift_share * drift + cfg.white * white)

    def av_frames(self, rng: np.random.Generator, modality: str, times: np.ndarray, duration: float,
                  perceived: np.ndarray, intensity: float, events: Events, syllables: np.ndarray, speaker: int,
                  utterance: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        weights = perceived * MODALITY_WEIGHT[modality] * intensity
        level = weights @ self.level_dirs[modality]  # (latent,)
        env = events.envelope(modality, times, cfg.background) * cfg.signal
        u = times / duration
        shapes = np.stack([np.cos(np.pi * u), np.cos(2 * np.pi * u)], axis=1) @ CONTOUR.T  # (T, emotions)
        contour = (shapes * weights) @ self.contour_dirs[modality] * cfg.contour  # (T, latent)
        latent = env[:, None] * level[None, :] + contour
        base = latent @ self.project[modality] + self.speakers[modality][speaker] + utterance
        if modality == "audio":
            layers, width = self.shapes["audio"]
            shared = self._content(rng, modality, times, syllables, width)
            own = self._content(rng, modality, times, syllables, layers * width).reshape(len(times), layers, width)
            return (base[:, None, :] * self.layer_gain[None, :, None] + shared[:, None, :] + 0.5 * own
                    ).astype(np.float32)
        return (base + self._content(rng, modality, times, syllables, base.shape[1])).astype(np.float32)

    def text_frames(self, rng: np.random.Generator, words: list[str], polarity: float, speaker: int) -> np.ndarray:
        embeddings = np.stack([self.vocab[w] for w in words])
        context = polarity * self.valence_dir  # a contextual encoder spreads the sentence's sentiment
        noise = rng.normal(scale=self.noise["text"], size=embeddings.shape)
        return (embeddings + context + 0.5 * self.speakers["text"][speaker] + noise).astype(np.float32)


def _config(variant: str) -> SyntheticConfig:
    if variant == "tiny":
        return SyntheticConfig()
    return SyntheticConfig(n_clips=48, n_speakers=8, split_speakers=(4, 2, 2))


def generate(path: str | Path, variant: str = "tiny", seed: int = 0,
             config: SyntheticConfig | None = None, replace: bool = True) -> FeatureStore:
    """Generate the dataset into ``path`` (atomically) and return it opened; ``replace=False`` keeps a copy that
    another process finished first (same seed, same content) instead of deleting it under its readers."""
    cfg = config or _config(variant)
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
        replace=replace,
    )
    try:
        for i in range(cfg.n_clips):
            speaker = i % cfg.n_speakers
            duration = _duration(rng)
            perceived, votes, attributes, intensity = gen.clip_labels(rng)
            events = _events(rng, duration, cfg)
            syllables = np.cumsum(rng.gamma(4.0, cfg.syllable / 4.0, size=int(duration / cfg.syllable * 2) + 4))
            frames = {}
            for modality, rate in (("audio", AUDIO_RATE), ("video", VIDEO_RATE)):
                times = (np.arange(int(round(duration * rate))) + 0.5) / rate
                utterance = rng.normal(scale=cfg.utterance_offset, size=gen.shapes[modality][-1])
                frames[modality] = gen.av_frames(rng, modality, times, duration, perceived, intensity, events,
                                                 syllables, speaker, utterance)
            words, word_times, polarity = _words(rng, duration, cfg.words_per_second, float(attributes[1]))
            frames["text"] = gen.text_frames(rng, words, polarity, speaker)
            writer.add(
                clip_id=f"syn{i:05d}_spk{speaker:02d}",
                speaker=f"spk{speaker:02d}",
                split=split_of[speaker],
                duration=duration,
                frames=frames,
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


def store_path(variant: str = "tiny", seed: int = 0) -> Path:
    """Where the cache keeps the first copy of ``variant`` and ``seed`` (later copies, written when one was
    damaged, add ``.2``, ``.3``, … : see :mod:`avbench.data.datasets`)."""
    return cache_dir() / "datasets" / f"synthetic-{variant}-seed{seed}-v{GENERATOR_VERSION}"


def load(variant: str = "tiny", seed: int = 0, path: Path | None = None) -> FeatureStore:
    """The cached synthetic store for ``variant`` and ``seed`` (at ``path``, default :func:`store_path`),
    generating it on first use."""
    path = path or store_path(variant, seed)
    if (path / "meta.json").is_file():
        return FeatureStore(path)
    return generate(path, variant=variant, seed=seed, replace=False)
