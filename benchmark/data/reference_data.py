"""Real-data reference values for ``avbench datasets realism`` and the embedded generator, with their sources.

The package never reads real data at run time: the constants below were derived once from public data by this
module's command line and committed with where they came from. Run it on your own checkout to re-derive them::

    python -m avbench.data.reference_data crema-d PATH/TO/CREMA-D      # label statistics (any CREMA-D checkout)
    python -m avbench.data.reference_data ravdess PATH/TO/WAV/FOLDER    # autocorrelation of log-mel features

It prints the constants as Python literals, ready to paste here.
"""
from __future__ import annotations

import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np

from avbench.data.corpus_stats import autocorrelation, label_cardinality, prevalence, raters_histogram

CREMA_D_SOURCE = ("CREMA-D audio-visual ratings (processedResults/tabulatedVotes.csv, 7,438 clips without the 4 "
                  "broken ones; ODbL 1.0, Cao et al. 2014), via `python -m avbench.data.reference_data crema-d`")
# Share of clips with 1, 2 and 3+ emotions whose vote share exceeds 1/C
CREMA_D_CARDINALITY = {'1': 0.4508, '2': 0.4133, '3+': 0.1359}
# Share of clips in which each emotion's vote share exceeds 1/C
CREMA_D_PREVALENCE = {'anger': 0.223, 'disgust': 0.3158, 'fear': 0.3034, 'happiness': 0.1802,
                      'neutral': 0.4423, 'sadness': 0.228}
# Share of clips per number of raters
CREMA_D_RATERS = {5: 0.0001, 6: 0.0007, 7: 0.009, 8: 0.0579, 9: 0.2873, 10: 0.5672, 11: 0.0768, 12: 0.0009}
CREMA_D_DURATION = {'mean': 2.5426, 'std': 0.5057, 'min': 1.2679, 'max': 5.005}  # seconds

RAVDESS_SOURCE = ("40-band log-mel spectra (25 ms windows, 20 ms hop = 50 Hz, 16 kHz) of the 12 RAVDESS speech "
                  "clips in shared/data/ravdess-sample (CC BY-NC-SA 4.0, Livingstone & Russo 2018), via "
                  "`python -m avbench.data.reference_data ravdess`")
RAVDESS_AUDIO_AUTOCORRELATION = {1: 0.93, 5: 0.70}

RAVER_TABLE3_SOURCE = "RAVER (Goncalves et al., IEEE OJSP 2025) Table 3 on CREMA-D: SER 0.709, FER 0.658 macro-F1"
RAVER_UNIMODAL_GAP = 0.709 - 0.658  # audio-only minus video-only macro-F1


def crema_d_constants(root: str | Path) -> dict[str, Any]:
    """Label statistics of the audio-visual ratings of a CREMA-D checkout, through avbench's own loader."""
    from avbench import corpora  # deferred: pandas

    labels = corpora.load_labels("crema-d", root, rating_modality="audio-visual")
    shares = labels.label_matrix()
    durations = labels.clips["duration"].to_numpy(np.float64)
    durations = durations[np.isfinite(durations)]
    return {
        "CREMA_D_CARDINALITY": {k: round(v, 4) for k, v in label_cardinality(shares).items()},
        "CREMA_D_PREVALENCE": {k: round(v, 4) for k, v in prevalence(shares, labels.emotions).items()},
        "CREMA_D_RATERS": {k: round(v, 4) for k, v in raters_histogram(labels.vote_matrix()).items()},
        "CREMA_D_DURATION": {"mean": round(float(durations.mean()), 4), "std": round(float(durations.std()), 4),
                             "min": round(float(durations.min()), 4), "max": round(float(durations.max()), 4)},
    }


def _mel_filterbank(n_mels: int, n_fft: int, rate: int) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale (HTK formula), (n_mels, n_fft // 2 + 1)."""
    to_hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1)  # noqa: E731
    to_mel = lambda f: 2595.0 * np.log10(1 + f / 700.0)  # noqa: E731
    edges = np.floor((n_fft + 1) * to_hz(np.linspace(0, to_mel(rate / 2), n_mels + 2)) / rate).astype(int)
    bank = np.zeros((n_mels, n_fft // 2 + 1))
    for i in range(n_mels):
        left, centre, right = edges[i : i + 3]
        bank[i, left:centre] = (np.arange(left, centre) - left) / max(centre - left, 1)
        bank[i, centre:right] = (right - np.arange(centre, right)) / max(right - centre, 1)
    return bank


def log_mel(path: Path, rate: int = 16000, frame_rate: int = 50, n_mels: int = 40) -> np.ndarray:
    """(frames, n_mels) log-mel spectrum of a 16-bit PCM mono WAV file at ``frame_rate`` frames per second."""
    from scipy.signal import resample_poly, stft  # deferred: scipy

    with wave.open(str(path)) as fh:
        source_rate = fh.getframerate()
        samples = np.frombuffer(fh.readframes(fh.getnframes()), np.int16).astype(np.float64) / 32768.0
    samples = resample_poly(samples, rate, source_rate)
    window, hop = rate * 25 // 1000, rate // frame_rate
    _, _, spec = stft(samples, fs=rate, nperseg=window, noverlap=window - hop, boundary=None, padded=False)
    power = np.abs(spec.T) ** 2
    return np.log(power @ _mel_filterbank(n_mels, window, rate).T + 1e-10)


def ravdess_constants(folder: str | Path) -> dict[str, Any]:
    """Lag-1 and lag-5 autocorrelation (50 Hz) of the log-mel spectra of every WAV file in ``folder``."""
    files = sorted(Path(folder).glob("*.wav"))
    if not files:
        raise SystemExit(f"no .wav files in {folder}")
    acf = autocorrelation(log_mel(f) for f in files)
    return {"RAVDESS_AUDIO_AUTOCORRELATION": {k: round(v, 2) for k, v in acf.items()}}


def main(argv: list[str]) -> None:
    derive = {"crema-d": crema_d_constants, "ravdess": ravdess_constants}
    if len(argv) != 2 or argv[0] not in derive:
        raise SystemExit("usage: python -m avbench.data.reference_data crema-d|ravdess PATH")
    for name, value in derive[argv[0]](argv[1]).items():
        print(f"{name} = {value!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
