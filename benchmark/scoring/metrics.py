"""The metric registry and every score avbench reports: one registration carries a metric's name, display name,
direction, the task statistics it reads, its computation and (by declaration order) its place in every table.

Modelled on lm-evaluation-harness's ``register_metric``. A metric is a function of *additive* statistics of a
multiset of clips, so the same registration gives the point score (every clip counted once) and all bootstrap
resamples at once (clip i counted ``weights[b, i]`` times; :mod:`avbench.scoring.stats`):

* classification (task ``emotion``; also ``category``, which reads the same head) reads
  :class:`ClassificationSums`: weighted sums of per-clip tp/fp/fn indicators, per-clip precision, per-clip squared
  error and per-clip calibration gaps per ECE bin (:class:`ClipStatistics`);
* attributes (task ``attributes``) read :class:`AttributeSums`: Lin's CCC of every attribute from weighted moments.

**Adding a metric** is one :func:`register_metric` call at the end of this module, e.g. a Hamming loss::

    HAMMING = register_metric("hamming", "Hamming loss", False, "emotion",
                              lambda s: (s.fp.sum(-1) + s.fn.sum(-1)) / (s.total * s.n_classes))

Results files, intervals, tables, plots, rankings and reports then carry it under its name. Families
(``f1_<emotion>``, ``ccc_<attribute>``) are declared by their prefix and compute one value per class; their member
names come from the dataset's emotions and attributes.

Conventions (RAVER, Section IV-B/C; EMO-SUPERB): labels are vote shares over C emotions and the binary target of
emotion e is ``share_e > 1/C`` (already-binary labels pass through unchanged because 1 > 1/C >= 0 for C >= 2); the
predicted set is ``{e : p_e > threshold}`` with ``threshold = 1/C`` unless given, or, with ``threshold=TOP1``, the
single most probable emotion (the ``category`` task); every score is computed over the whole test set at once,
never averaged over batches (the EMO-SUPERB per-batch macro-F1 mistake).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from avbench.data.vocabulary import ATTRIBUTES
from avbench.errors import UserError, unknown

ATTRIBUTE_NAMES: tuple[str, ...] = ATTRIBUTES
ECE_BINS = 15
TOP1 = "top1"  # threshold value meaning "predict the single most probable class"
CORPUS = "corpus"  # aggregation: computed over the whole test set at once; bootstrapped over clips
PER_CLASS_F1 = "per_class_f1"  # the (..., C) array behind the f1_<emotion> family; never a results-file name


# ----------------------------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class MetricSpec:
    """One declared metric (or, with ``family=True``, the prefix of a family of per-class metrics).

    ``task`` names the head whose statistics ``compute`` reads (``emotion``: :class:`ClassificationSums`,
    ``attributes``: :class:`AttributeSums`); ``compute`` returns the score for every leading index of the sums
    (``(..., C)`` for a family).
    """

    name: str
    display: str
    higher_is_better: bool
    task: str
    compute: Callable[[Any], np.ndarray] | None = None
    aggregation: str = CORPUS
    family: bool = False
    digits: int = 3  # decimals tables print (the audio-text paper prints CCC with four)
    bounds: tuple[float, float] = (0.0, 1.0)  # every value the metric can take (a leaderboard entry outside is refused)

    def member(self, name: str) -> str:
        """A family member's results-file name: ``f1_`` + ``anger`` = ``f1_anger``."""
        return f"{self.name}{name}"


_METRICS: dict[str, MetricSpec] = {}
_FAMILIES: dict[str, MetricSpec] = {}
_ORDER: list[MetricSpec] = []  # declaration order: the order of every results file and table


def register_metric(name: str, display: str, higher_is_better: bool, task: str,
                    compute: Callable[[Any], np.ndarray] | None = None, family: bool = False, digits: int = 3,
                    aggregation: str = CORPUS, bounds: tuple[float, float] = (0.0, 1.0)) -> str:
    """Declare a metric (or a family prefix) with its computation and return its name, so modules can keep a
    constant for it. Declaring a name again with other settings is an error (the same settings: a no-op)."""
    spec = MetricSpec(name, display, higher_is_better, task, compute, aggregation, family, digits, bounds)
    table = _FAMILIES if family else _METRICS
    if name in table:
        known = table[name]
        if (known.display, known.higher_is_better, known.task, known.family, known.digits, known.bounds) != \
                (display, higher_is_better, task, family, digits, bounds):
            raise ValueError(f"metric {name!r} is already declared differently")
        return name
    table[name] = spec
    _ORDER.append(spec)
    return name


def spec(name: str) -> MetricSpec:
    """The declaration of ``name``; a family member (``f1_anger``) resolves to its family's declaration."""
    if name in _METRICS:
        return _METRICS[name]
    for prefix, family in _FAMILIES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return MetricSpec(name, family.display.format(name[len(prefix):]), family.higher_is_better, family.task,
                              aggregation=family.aggregation, digits=family.digits, bounds=family.bounds)
    raise unknown("metric", name, [*_METRICS, *(f"{p}<name>" for p in _FAMILIES)])


def higher_is_better(name: str) -> bool:
    return spec(name).higher_is_better


def display(name: str) -> str:
    """The human-readable name of a metric (``macro-F1``), for titles, axes and column headers."""
    return spec(name).display


def is_family_member(name: str) -> bool:
    """A per-class metric such as ``f1_anger`` (not a declared scalar that happens to share the prefix)."""
    return name not in _METRICS and any(name.startswith(p) and len(name) > len(p) for p in _FAMILIES)


def family_of(name: str) -> str | None:
    """The family prefix of a per-class metric (``f1_anger`` → ``f1_``), None for a scalar metric."""
    return next((p for p in _FAMILIES if name not in _METRICS and name.startswith(p) and len(name) > len(p)), None)


def names(task: str | None = None) -> list[str]:
    """Declared scalar metrics (families excluded), optionally of one task, in declaration order."""
    return [s.name for s in _ORDER if not s.family and (task is None or s.task == task)]


def _computed(task: str, sums: Any, family_keys: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Every registered metric of ``task`` from its sums, in declaration order; a family under
    ``family_keys[prefix]`` (one array) when given, else as one entry per member is left to the caller."""
    out: dict[str, np.ndarray] = {}
    for metric in _ORDER:
        if metric.task == task and metric.compute is not None:
            key = (family_keys or {}).get(metric.name, metric.name)
            out[key] = metric.compute(sums)
    return out


# --------------------------------------------------------------------------------------------- validation


def _finite(name: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        raise UserError(f"{name} contain NaN or inf ({int(np.sum(~np.isfinite(values)))} values)")


def _unit_interval(name: str, values: np.ndarray) -> None:
    _finite(name, values)
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise UserError(f"{name} must lie in [0, 1]; got min {values.min():.4g}, max {values.max():.4g}")


def _classification_inputs(y_true: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return (binary targets as bool (N, C), probabilities as float64 (N, C))."""
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if y.ndim != 2 or p.ndim != 2:
        raise UserError(f"labels and probabilities must be (clips, classes) arrays; got shapes {y.shape} and {p.shape}")
    if y.shape != p.shape:
        raise UserError(f"labels shape {y.shape} does not match probabilities shape {p.shape}")
    n_clips, n_classes = p.shape
    if n_clips == 0:
        raise UserError("no clips to score")
    if n_classes < 2:
        raise UserError(f"multi-label classification needs at least 2 classes; got {n_classes}")
    _unit_interval("probabilities", p)
    if y.dtype == np.bool_:
        return y, p
    y = y.astype(np.float64)
    _unit_interval("labels", y)
    return y > 1.0 / n_classes, p


def _decide(probs: np.ndarray, threshold: float | str | None) -> np.ndarray:
    """The predicted set of every clip: classes above the threshold, or the most probable one for :data:`TOP1`."""
    if threshold == TOP1:
        return np.eye(probs.shape[1], dtype=bool)[probs.argmax(axis=1)]
    return probs > _threshold(threshold, probs.shape[1])  # type: ignore[arg-type]


def _threshold(threshold: float | None, n_classes: int) -> float:
    if threshold is None:
        return 1.0 / n_classes
    if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise UserError(f"threshold must lie in [0, 1]; got {threshold}")
    return float(threshold)


def binary_targets(y_true: ArrayLike) -> np.ndarray:
    """Binary (N, C) targets: vote shares above 1/C (binary labels are returned unchanged)."""
    y = np.asarray(y_true)
    return _classification_inputs(y, np.zeros(y.shape))[0]


# --------------------------------------------------------------------------------- per-clip statistics


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    return np.divide(numerator, denominator, out=np.zeros(numerator.shape), where=denominator > 0)


def _bin_index(probs: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bin of each probability: bin b is (b/M, (b+1)/M], and p = 0 falls in bin 0."""
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.digitize(probs, inner_edges, right=True)


class ClassificationSums:
    """Weighted sums of :class:`ClipStatistics` over a multiset of clips: what every classification metric reads.

    Leading shape ``(...)`` is that of the weights without their clip axis: ``()`` for the test set itself, ``(B,)``
    for B bootstrap resamples. ``tp``/``fp``/``fn`` are ``(..., C)``; ``total`` is the number of clips counted.
    """

    def __init__(self, stats: "ClipStatistics", weights: np.ndarray) -> None:
        self.tp, self.fp, self.fn = weights @ stats.tp, weights @ stats.fp, weights @ stats.fn
        self.total = weights.sum(axis=-1)
        self.precision = weights @ stats.precision  # sum of per-clip precision
        self.squared_error = weights @ stats.squared_error
        self.calibration_gap = weights @ stats.calibration_gap  # (..., n_bins)
        self.n_classes = stats.n_classes

    @cached_property
    def per_class_f1(self) -> np.ndarray:
        return _safe_divide(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @cached_property
    def support(self) -> np.ndarray:
        return self.tp + self.fn


@dataclass(frozen=True)
class ClipStatistics:
    """Additive per-clip statistics from which every classification score follows.

    ``calibration_gap[i, b]`` is the sum over classes of (p − y) for clip i's probabilities falling in ECE bin b,
    so the ECE of any weighted multiset of clips is ``sum_b |w @ gap[:, b]| / (sum(w) · C)``:
    n_b · |mean p − mean y| equals |Σp − Σy| within a bin.
    """

    tp: np.ndarray  # (N, C) float 0/1
    fp: np.ndarray  # (N, C)
    fn: np.ndarray  # (N, C)
    precision: np.ndarray  # (N,) per-clip precision, 0 when nothing is predicted
    squared_error: np.ndarray  # (N,) sum over classes of (p − y)²
    calibration_gap: np.ndarray  # (N, n_bins)

    @property
    def n_clips(self) -> int:
        return self.tp.shape[0]

    @property
    def n_classes(self) -> int:
        return self.tp.shape[1]

    def scores(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every registered classification score of the multiset where clip i counts ``weights[..., i]`` times.

        ``weights`` is (N,) for the plain test set (all ones) or (B, N) bootstrap counts; every returned array
        has the leading shape of ``weights`` without its last axis (plus C for ``per_class_f1``).
        """
        return _computed("emotion", ClassificationSums(self, weights), {F1: PER_CLASS_F1})


def clip_statistics(
    y_true: ArrayLike, probs: ArrayLike, threshold: float | str | None = None, n_bins: int = ECE_BINS
) -> ClipStatistics:
    """Validate the inputs and build the per-clip statistics (see the module docstring)."""
    target, p = _classification_inputs(y_true, probs)
    n_clips, n_classes = p.shape
    predicted = _decide(p, threshold)
    tp = (predicted & target).astype(np.float64)
    fp = (predicted & ~target).astype(np.float64)
    fn = (~predicted & target).astype(np.float64)
    error = p - target
    flat_bin = np.arange(n_clips)[:, None] * n_bins + _bin_index(p, n_bins)
    gap = np.bincount(flat_bin.ravel(), weights=error.ravel(), minlength=n_clips * n_bins).reshape(n_clips, n_bins)
    return ClipStatistics(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=_safe_divide(tp.sum(1), predicted.sum(1)),
        squared_error=(error**2).sum(1),
        calibration_gap=gap,
    )


def _as_python(values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """0-d arrays become floats so results serialise cleanly; arrays stay arrays."""
    return {key: float(value) if np.ndim(value) == 0 else np.asarray(value) for key, value in values.items()}


def classification_scores(y_true: ArrayLike, probs: ArrayLike, threshold: float | str | None = None
                          ) -> dict[str, Any]:
    """All classification scores of one model on one test set.

    Returns macro-, micro- and weighted-F1 (scikit-learn ``f1_score`` semantics, zero_division=0),
    ``sample_precision`` (``precision_score(average='samples', zero_division=0)``: a clip with no predicted
    emotion scores 0), ``brier`` (RAVER Section IV-C2: mean over all N·C entries of (p − y)²), ``ece`` (expected
    calibration error treating each of the N·C (p, y) pairs as one binary prediction, 15 equal-width bins
    (b/15, (b+1)/15]: Σ_b n_b/(N·C) · |mean p_b − mean y_b|) and ``per_class_f1`` (array of C).
    """
    stats = clip_statistics(y_true, probs, threshold)
    return _as_python(stats.scores(np.ones(stats.n_clips)))


class ReliabilityCurve(NamedTuple):
    """Per-bin mean confidence, observed frequency and count; NaN confidence/accuracy for empty bins."""

    edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # (n_bins,)
    accuracy: np.ndarray  # (n_bins,)
    count: np.ndarray  # (n_bins,) int


def reliability_curve(y_true: ArrayLike, probs: ArrayLike, n_bins: int = ECE_BINS) -> ReliabilityCurve:
    """Reliability diagram data over all N·C (p, y) pairs, with the same bins as ``ece``."""
    if n_bins < 1:
        raise UserError(f"n_bins must be at least 1; got {n_bins}")
    target, p = _classification_inputs(y_true, probs)
    bins = _bin_index(p, n_bins).ravel()
    count = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p.ravel(), minlength=n_bins)
    sum_y = np.bincount(bins, weights=target.ravel().astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ReliabilityCurve(np.linspace(0.0, 1.0, n_bins + 1), sum_p / count, sum_y / count, count)


# ------------------------------------------------------------------------------------------ attributes


def _attribute_inputs(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise UserError(f"labels shape {t.shape} does not match predictions shape {p.shape}")
    if t.ndim not in (1, 2):
        raise UserError(f"CCC needs 1-D or (clips, attributes) arrays; got shape {t.shape}")
    if t.shape[0] < 2:
        raise UserError(f"CCC needs at least 2 clips; got {t.shape[0]}")
    _finite("labels", t)
    _finite("predictions", p)
    return t, p


def weighted_ccc(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Column-wise CCC of (N, K) arrays where clip i counts ``weights[..., i]`` times (NaN where undefined).

    Population moments from weighted sums, so (B, N) bootstrap counts give all B×K values in five products.
    Both columns are shifted by the same constant first: that leaves CCC unchanged (it depends on the mean
    *difference*) and keeps the one-pass variance formula away from cancellation.
    """
    shift = y_true.mean(axis=0)
    t, p = y_true - shift, y_pred - shift
    total = weights.sum(axis=-1)[..., None]
    mean_t, mean_p = (weights @ t) / total, (weights @ p) / total
    var_t = (weights @ (t * t)) / total - mean_t**2
    var_p = (weights @ (p * p)) / total - mean_p**2
    cov = (weights @ (t * p)) / total - mean_t * mean_p
    denominator = var_t + var_p + (mean_t - mean_p) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * cov / denominator, np.nan)


def ccc(y_true: ArrayLike, y_pred: ArrayLike) -> float | np.ndarray:
    """Lin's concordance correlation 2·cov/(σ_t² + σ_p² + (μ_t − μ_p)²) with population statistics.

    1-D inputs give a float; (N, K) inputs give one value per column. As in the audio-text authors' evaluation,
    it is computed once over the whole (de-normalised) test set.
    """
    t, p = _attribute_inputs(y_true, y_pred)
    values = weighted_ccc(t.reshape(len(t), -1), p.reshape(len(p), -1), np.ones(len(t)))
    if np.any(np.isnan(values)):
        raise UserError("CCC is undefined when labels and predictions are both constant and equal")
    return float(values[0]) if t.ndim == 1 else values


def attribute_inputs(
    y_true: ArrayLike, y_pred: ArrayLike, names: Sequence[str] = ATTRIBUTE_NAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 (N, K) label and prediction arrays, one column per name in ``names``."""
    t, p = _attribute_inputs(y_true, y_pred)
    if t.ndim != 2 or t.shape[1] != len(names):
        raise UserError(f"expected (clips, {len(names)}) arrays for attributes {tuple(names)}; got shape {t.shape}")
    return t, p


class AttributeSums(NamedTuple):
    """What every attribute metric reads: the CCC of each attribute, ``(..., K)``, for every leading index of the
    weights (NaN where undefined)."""

    ccc: np.ndarray


def attribute_distribution(t: np.ndarray, p: np.ndarray, weights: np.ndarray, names: Sequence[str]
                           ) -> dict[str, np.ndarray]:
    """Every registered attribute score of the multiset where clip i counts ``weights[..., i]`` times:
    ``ccc_<name>`` per column of validated (N, K) arrays, then the other attribute metrics."""
    return _attribute_keys(_computed("attributes", AttributeSums(weighted_ccc(t, p, weights))), names)


def _attribute_keys(scores: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The CCC family's (..., K) array as one ``ccc_<name>`` entry per attribute, in registration order."""
    out: dict[str, np.ndarray] = {}
    for key, value in scores.items():
        if key == CCC:
            out.update({ccc_key(name): value[..., k] for k, name in enumerate(names)})
        else:
            out[key] = value
    return out


def attribute_scores(
    y_true: ArrayLike, y_pred: ArrayLike, names: Sequence[str] = ATTRIBUTE_NAMES
) -> dict[str, float]:
    """Every registered attribute score of the test set: ``ccc_<name>`` per column (order follows ``names``), then
    their mean (:data:`CCC_MEAN`)."""
    values = ccc(*attribute_inputs(y_true, y_pred, names))
    scores = _attribute_keys(_computed("attributes", AttributeSums(np.asarray(values))), names)
    return {key: float(value) for key, value in scores.items()}


def flatten_scores(scores: Mapping[str, Any], emotions: Sequence[str]) -> dict[str, Any]:
    """Flat results-file row: ``per_class_f1`` becomes one ``f1_<emotion>`` key per emotion.

    Works on :func:`classification_scores` output (values become floats) and on bootstrap intervals, where each
    value is a ``(point, low, high)`` tuple whose per-class members are arrays (values become float triples).
    """
    flat: dict[str, Any] = {}
    for key, value in scores.items():
        if key != PER_CLASS_F1:
            flat[key] = tuple(float(v) for v in value) if isinstance(value, tuple) else float(value)
            continue
        members = value if isinstance(value, tuple) else (value,)
        if any(np.shape(member) != (len(emotions),) for member in members):
            raise UserError(f"per-class F1 has {np.shape(members[0])} values but {len(emotions)} emotions were named")
        for index, emotion in enumerate(emotions):
            picked = tuple(float(member[index]) for member in members)
            flat[f1_key(emotion)] = picked if isinstance(value, tuple) else picked[0]
    return flat


# --------------------------------------------------------------------------------------------- the declarations
# classification (the emotion head), in the order every results file and table reports them
MACRO_F1 = register_metric("macro_f1", "macro-F1", True, "emotion", lambda s: s.per_class_f1.mean(axis=-1))
MICRO_F1 = register_metric("micro_f1", "micro-F1", True, "emotion", lambda s: _safe_divide(
    2 * s.tp.sum(-1), 2 * s.tp.sum(-1) + s.fp.sum(-1) + s.fn.sum(-1)))
WEIGHTED_F1 = register_metric("weighted_f1", "weighted-F1", True, "emotion", lambda s: _safe_divide(
    (s.support * s.per_class_f1).sum(-1), s.support.sum(-1)))
SAMPLE_PRECISION = register_metric("sample_precision", "sample precision", True, "emotion",
                                   lambda s: s.precision / s.total)
BRIER = register_metric("brier", "Brier", False, "emotion", lambda s: s.squared_error / (s.total * s.n_classes))
ECE = register_metric("ece", "ECE", False, "emotion",
                      lambda s: np.abs(s.calibration_gap).sum(-1) / (s.total * s.n_classes))
F1 = register_metric("f1_", "F1 {}", True, "emotion", lambda s: s.per_class_f1, family=True)
# attributes
CCC = register_metric("ccc_", "CCC {}", True, "attributes", lambda s: s.ccc, family=True, digits=4, bounds=(-1.0, 1.0))
CCC_MEAN = register_metric(CCC + "mean", "mean CCC", True, "attributes", lambda s: s.ccc.mean(axis=-1), digits=4,
                           bounds=(-1.0, 1.0))

CLASSIFICATION_METRICS: tuple[str, ...] = tuple(names("emotion"))
"""Scalar classification scores, in the order they are reported; ``per_class_f1`` comes on top of these."""


def f1_key(emotion: str) -> str:
    """Flat results-file name of one emotion's F1 (``f1_anger``)."""
    return _FAMILIES[F1].member(emotion)


def ccc_key(attribute: str) -> str:
    """Flat results-file name of one attribute's CCC (``ccc_arousal``)."""
    return _FAMILIES[CCC].member(attribute)


ATTRIBUTE_METRICS: tuple[str, ...] = tuple(ccc_key(name) for name in ATTRIBUTE_NAMES) + (CCC_MEAN,)
