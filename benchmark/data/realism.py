"""How much a feature store looks like real audio-visual emotion data: ``avbench datasets realism``.

Everything here is a property of the data, measured with simple seeded probes, never with a benchmark model:

* **smoothness** — pooled lag-1 / lag-5 autocorrelation of each modality's frames (z-scored with the store's
  train statistics, audio layers averaged);
* **evidence in time** — macro-F1 of a linear probe on the means of the clip's thirds minus that of a probe on
  the clip mean (clean test split): what knowing *where* a frame lies adds;
* **bursts versus scattered loss** — the clip-mean probe, trained on clean clips, evaluated on masked means
  under random loss (``random-all`` at 50 %) and Markov bursts at the same expected dropped fraction
  (``markov`` pL0.9-pN0.9): the extra cost of bursts;
* **labels** — label cardinality (1 / 2 / 3+ emotions above 1/C), prevalence and raters per clip;
* **modality strength** — macro-F1 of the thirds probe on audio alone, video alone and both, and the
  audio − video gap; for text, the CCC of a ridge probe of valence on the clip's mean word vector.

Probes are multinomial logistic regressions on vote shares (L2 strength chosen on the dev split), fitted with
L-BFGS in torch from a fixed seed; a store gives the same report on every run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from avbench.data.corpus_stats import autocorrelation, label_cardinality, prevalence
from avbench.corruptions import get as get_corruption
from avbench.corruptions import masks_for
from avbench.scoring.metrics import MACRO_F1
from avbench.scoring.metrics import ccc, classification_scores
from avbench.data.store import FeatureStore
from avbench.data import reference_data as ref

TEMPORAL = ("audio", "video")
LAGS = (1, 5)
SCATTERED = ("random-all", "50pct")
BURSTS = ("markov", "pL0.9-pN0.9")
MASK_SEEDS = (0, 1, 2)
L2_GRID = (1e-3, 1e-2, 1e-1)
TARGETS = {  # the embedded corpus's acceptance targets (issue 10)
    "audio lag-1 autocorrelation": (0.80, 0.95),
    "where-in-time gain (audio + video)": (0.03, None),
    "burst − scattered cost (audio + video)": (0.02, None),
    "label cardinality, max |Δ| to CREMA-D": (None, 0.03),
}


@dataclass
class RealismReport:
    """The measured properties of one store (NaN where the store lacks what a property needs)."""

    name: str
    clips: dict[str, int]
    autocorrelation: dict[str, dict[int, float]] = field(default_factory=dict)
    clip_mean_f1: dict[str, float] = field(default_factory=dict)
    thirds_f1: dict[str, float] = field(default_factory=dict)
    scattered_f1: dict[str, float] = field(default_factory=dict)
    burst_f1: dict[str, float] = field(default_factory=dict)
    cardinality: dict[str, float] = field(default_factory=dict)
    prevalence: dict[str, float] = field(default_factory=dict)
    raters: tuple[float, int, int] | None = None  # mean, min, max
    text_valence_ccc: float | None = None

    def temporal_gain(self, key: str) -> float:
        return self.thirds_f1[key] - self.clip_mean_f1[key]

    def burst_cost(self, key: str) -> float:
        return self.scattered_f1[key] - self.burst_f1[key]

    def unimodal_gap(self) -> float:
        return self.thirds_f1.get("audio", np.nan) - self.thirds_f1.get("video", np.nan)

    def target_values(self, reference_cardinality: dict[str, float]) -> dict[str, float]:
        """The value each entry of :data:`TARGETS` is judged on."""
        card = max(abs(self.cardinality.get(k, np.nan) - v) for k, v in reference_cardinality.items())
        both = "audio+video"
        return {
            "audio lag-1 autocorrelation": self.autocorrelation.get("audio", {}).get(1, np.nan),
            "where-in-time gain (audio + video)": self.temporal_gain(both) if both in self.thirds_f1 else np.nan,
            "burst − scattered cost (audio + video)": self.burst_cost(both) if both in self.burst_f1 else np.nan,
            "label cardinality, max |Δ| to CREMA-D": card,
        }


def _frames(store: FeatureStore, modality: str, index: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(T, D) z-scored frames of one clip; audio's stacked layers are averaged."""
    x = (np.asarray(store.frames(modality, index), np.float32) - mean) / std
    return x.mean(axis=1) if x.ndim == 3 else x


def _norm(store: FeatureStore, modality: str) -> tuple[np.ndarray, np.ndarray]:
    shape = tuple(store.modalities[modality]["shape"])
    stats = store.norm.get(modality)
    if stats is None:
        return np.zeros(shape, np.float32), np.ones(shape, np.float32)
    return (np.asarray(stats["mean"], np.float32).reshape(shape),
            np.maximum(np.asarray(stats["std"], np.float32), 1e-6).reshape(shape))


def _mean(x: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Mean of the kept frames (all when ``keep`` is None); zeros (the train mean) when nothing is kept."""
    kept = x if keep is None else x[keep]
    return kept.mean(axis=0) if len(kept) else np.zeros(x.shape[1], np.float32)


def _thirds(x: np.ndarray) -> np.ndarray:
    """Means of the clip's first, middle and last third, concatenated."""
    return np.concatenate([_mean(part) for part in np.array_split(x, 3)])


class _Probe:
    """Seeded multinomial logistic regression on vote shares, standardised inputs, L2 chosen on dev."""

    def __init__(self, train_x: np.ndarray, train_y: np.ndarray, dev_x: np.ndarray, dev_y: np.ndarray) -> None:
        self.mean = train_x.mean(axis=0)
        self.std = train_x.std(axis=0) + 1e-6
        best = -1.0
        for l2 in L2_GRID:
            weights = self._fit(self._z(train_x), train_y, l2)
            score = _macro_f1(dev_y, self._predict(weights, dev_x))
            if score > best:
                best, self.weights = score, weights

    def _z(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((x - self.mean) / self.std, dtype=torch.float64)

    @staticmethod
    def _fit(x: torch.Tensor, y: np.ndarray, l2: float) -> torch.Tensor:
        torch.manual_seed(0)
        target = torch.as_tensor(y, dtype=torch.float64)
        w = torch.zeros(x.shape[1] + 1, target.shape[1], dtype=torch.float64, requires_grad=True)
        xb = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
        opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            opt.zero_grad()
            value = -(target * torch.log_softmax(xb @ w, dim=1)).sum(1).mean() + l2 * (w[:-1] ** 2).sum()
            value.backward()
            return value

        opt.step(loss)
        return w.detach()

    def _predict(self, w: torch.Tensor, x: np.ndarray) -> np.ndarray:
        z = self._z(x)
        return torch.softmax(torch.cat([z, torch.ones(len(z), 1, dtype=torch.float64)], 1) @ w, 1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._predict(self.weights, x)


def _macro_f1(shares: np.ndarray, probs: np.ndarray) -> float:
    return float(classification_scores(shares, probs)[MACRO_F1])


def _ridge_ccc(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    a = np.c_[(train_x - mean) / std, np.ones(len(train_x))]
    w = np.linalg.solve(a.T @ a + np.eye(a.shape[1]) * 1.0, a.T @ train_y)
    return float(ccc(test_y, np.c_[(test_x - mean) / std, np.ones(len(test_x))] @ w))


def _subset(store: FeatureStore, split: str, limit: int | None) -> np.ndarray:
    idx = store.split_indices(split)
    if limit is not None and len(idx) > limit:
        idx = np.sort(np.random.default_rng(0).choice(idx, size=limit, replace=False))
    return idx


def measure(store: FeatureStore, limit: int | None = 2000) -> RealismReport:
    """Measure every property of ``store`` on at most ``limit`` clips per split (the same clips every run)."""
    splits = {s: _subset(store, s, limit) for s in ("train", "dev", "test")}
    shares = np.asarray(store.labels, np.float64)
    votes = np.asarray(store.votes)
    report = RealismReport(store.name, {s: len(i) for s, i in splits.items()})
    labelled = votes.sum(axis=1) > 0 if votes.size else np.zeros(len(store), bool)
    if labelled.any():
        report.cardinality = label_cardinality(shares[labelled])
        report.prevalence = prevalence(shares[labelled], store.emotions)
        raters = votes[labelled].sum(axis=1)
        report.raters = (float(raters.mean()), int(raters.min()), int(raters.max()))
    if any(len(i) == 0 for i in splits.values()):
        return report
    temporal = [m for m in TEMPORAL if m in store.modalities and store.rates.get(m, 0) > 0]
    corruptions = {name: (get_corruption(name), get_corruption(name).level(level))
                   for name, level in (SCATTERED, BURSTS)}
    features: dict[str, dict[str, np.ndarray]] = {}  # "<modality>:<kind>" -> split -> (N, F)
    for m in temporal:
        mean, std = _norm(store, m)
        acf_clips = []
        for split, idx in splits.items():
            clean_mean, clean_thirds, masked = [], [], {name: [] for name in corruptions}
            for i in idx:
                x = _frames(store, m, int(i), mean, std)
                acf_clips.append(x)
                clean_mean.append(_mean(x))
                clean_thirds.append(_thirds(x))
                if split != "test":
                    continue
                timing = store.timing(int(i))
                for name, (corruption, level) in corruptions.items():
                    keeps = [masks_for(corruption, level, timing, seed, (m,))[m] for seed in MASK_SEEDS]
                    masked[name].append(np.stack([_mean(x, keep) for keep in keeps]))
            features.setdefault(f"{m}:mean", {})[split] = np.stack(clean_mean)
            features.setdefault(f"{m}:thirds", {})[split] = np.stack(clean_thirds)
            if split == "test":
                for name in corruptions:
                    features.setdefault(f"{m}:{name}", {})[split] = np.stack(masked[name])  # (N, seeds, D)
        report.autocorrelation[m] = autocorrelation(acf_clips, LAGS)
    y = {s: shares[i] for s, i in splits.items()}
    keys = [[m] for m in temporal] + ([temporal] if len(temporal) > 1 else [])
    for mods in keys:
        key = "+".join(mods)

        def stack(kind: str, split: str, mods: list[str] = mods) -> np.ndarray:
            return np.concatenate([features[f"{m}:{kind}"][split] for m in mods], axis=-1)

        for kind, target in (("thirds", report.thirds_f1), ("mean", report.clip_mean_f1)):
            probe = _Probe(stack(kind, "train"), y["train"], stack(kind, "dev"), y["dev"])
            target[key] = _macro_f1(y["test"], probe.predict(stack(kind, "test")))
            if kind != "mean":
                continue
            for name, out in ((SCATTERED[0], report.scattered_f1), (BURSTS[0], report.burst_f1)):
                masked = stack(name, "test")
                out[key] = float(np.mean([_macro_f1(y["test"], probe.predict(masked[:, s]))
                                          for s in range(masked.shape[1])]))
    if "text" in store.modalities and np.isfinite(np.asarray(store.attributes)).all():
        mean, std = _norm(store, "text")
        text = {s: np.stack([_frames(store, "text", int(i), mean, std).mean(axis=0)
                             if store.frames("text", int(i)).shape[0] else np.zeros(mean.shape[-1], np.float32)
                             for i in idx]) for s, idx in splits.items()}
        valence = {s: np.asarray(store.attributes, np.float64)[idx, 1] for s, idx in splits.items()}
        report.text_valence_ccc = _ridge_ccc(text["train"], valence["train"], text["test"], valence["test"])
    return report


def render(report: RealismReport, console) -> None:  # noqa: ANN001 (a rich Console)
    """Print the report beside the real-data reference values, and whether the embedded-corpus targets are met."""
    from rich.table import Table  # deferred: rich


    def fmt(value: float | None, digits: int = 3) -> str:
        return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"

    clips = ", ".join(f"{k} {v}" for k, v in report.clips.items())
    table = Table("property", "of", "measured", "real data", title=f"{report.name}: realism ({clips} clips)")
    for m, acf in report.autocorrelation.items():
        real = ref.RAVDESS_AUDIO_AUTOCORRELATION if m == "audio" else None
        table.add_row("autocorrelation, lag 1 / 5", m, f"{fmt(acf[1], 2)} / {fmt(acf[5], 2)}",
                      f"{real[1]:.2f} / {real[5]:.2f} [1]" if real else "–")
    for key in report.thirds_f1:
        table.add_row("where-in-time gain [4]", key, f"{fmt(report.temporal_gain(key))} "
                      f"({fmt(report.thirds_f1[key])} − {fmt(report.clip_mean_f1[key])})", "> 0 [3]")
    for key in report.burst_f1:
        table.add_row("burst − scattered cost [5]", key, f"{fmt(report.burst_cost(key))} "
                      f"({fmt(report.scattered_f1[key])} − {fmt(report.burst_f1[key])})", "> 0 [3]")
    if report.cardinality:
        table.add_row("cardinality 1 / 2 / 3+ (%)", "labels", " / ".join(f"{100 * v:.1f}" for v in
                      report.cardinality.values()),
                      " / ".join(f"{100 * v:.1f}" for v in ref.CREMA_D_CARDINALITY.values()) + " [2]")
        table.add_row("prevalence (%)", ", ".join(e[:3] for e in report.prevalence),
                      " / ".join(f"{100 * v:.0f}" for v in report.prevalence.values()),
                      " / ".join(f"{100 * ref.CREMA_D_PREVALENCE.get(e, np.nan):.0f}" for e in report.prevalence)
                      + " [2]")
    if report.raters:
        mean, low, high = report.raters
        real = sum(k * v for k, v in ref.CREMA_D_RATERS.items()) / sum(ref.CREMA_D_RATERS.values())
        table.add_row("raters per clip", "labels", f"{mean:.2f} ({low}–{high})",
                      f"{real:.2f} ({min(ref.CREMA_D_RATERS)}–{max(ref.CREMA_D_RATERS)}) [2]")
    if "audio" in report.thirds_f1 and "video" in report.thirds_f1:
        both = report.thirds_f1.get("audio+video")
        table.add_row("unimodal gap [4]", "audio − video", f"{fmt(report.unimodal_gap())} (a "
                      f"{fmt(report.thirds_f1['audio'])}, v {fmt(report.thirds_f1['video'])}, a+v {fmt(both)})",
                      f"{ref.RAVER_UNIMODAL_GAP:.3f} [3]")
    if report.text_valence_ccc is not None:
        table.add_row("valence CCC [6]", "text", fmt(report.text_valence_ccc), "> 0")
    console.print(table)
    targets = Table("target (embedded corpus)", "value", "required", "met", title="acceptance targets")
    for name, value in report.target_values(ref.CREMA_D_CARDINALITY).items():
        low, high = TARGETS[name]
        met = np.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)
        required = (f"{low} – {high}" if low is not None and high is not None
                    else f"≥ {low}" if low is not None else f"≤ {high}")
        targets.add_row(name, fmt(value), required, "yes" if met else "no")
    console.print(targets)
    notes = (f"[1] {ref.RAVDESS_SOURCE}", f"[2] {ref.CREMA_D_SOURCE}",
             f"[3] {ref.RAVER_TABLE3_SOURCE}; both papers: temporal context helps, bursts hurt more than "
             "scattered loss",
             "[4] macro-F1 of a linear probe on the means of the clip's thirds minus one on the clip mean (test split)",
             f"[5] clip-mean probe under {SCATTERED[0]} {SCATTERED[1]} minus under {BURSTS[0]} {BURSTS[1]} "
             "(same expected dropped fraction)",
             "[6] ridge probe of valence on the clip's mean word vector")
    console.print("\n".join(notes), style="dim", highlight=False)
