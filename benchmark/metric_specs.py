"""The declared metrics: every score avbench reports, with its display name, direction, task and aggregation.

Modelled on lm-evaluation-harness's ``register_metric``: a metric is declared once here, and every table, plot,
ranking and report reads its name, display name and direction (higher or lower is better) from this registry
instead of repeating string literals. The computations themselves live in :mod:`avbench.metrics` (point scores)
and :mod:`avbench.stats` (bootstrap); this module only *declares*, so it imports nothing from avbench.

Aggregation: every metric here is a *corpus* score (computed over the whole test set at once, never averaged over
batches) and is bootstrapped by resampling clips, all metrics of a condition on the same resamples. Across seeds,
a condition's value is the seed mean with a t interval; a ranking score is bootstrapped hierarchically over seeds
and clips (see :mod:`avbench.summary`).

Families (``f1_<emotion>``, ``ccc_<attribute>``) are declared by their prefix: the member names depend on the
dataset's emotions and attributes.
"""
from __future__ import annotations

from dataclasses import dataclass

from avbench.errors import unknown

CORPUS = "corpus"  # computed over the whole test set at once; bootstrapped over clips


@dataclass(frozen=True)
class MetricSpec:
    """One declared metric (or, with ``family=True``, the prefix of a family of per-class metrics)."""

    name: str
    display: str
    higher_is_better: bool
    task: str
    aggregation: str = CORPUS
    family: bool = False
    digits: int = 3  # decimals tables print (the audio-text paper prints CCC with four)

    def member(self, name: str) -> str:
        """A family member's results-file name: ``f1_`` + ``anger`` = ``f1_anger``."""
        return f"{self.name}{name}"


_METRICS: dict[str, MetricSpec] = {}
_FAMILIES: dict[str, MetricSpec] = {}


def register_metric(name: str, display: str, higher_is_better: bool, task: str, aggregation: str = CORPUS,
                    family: bool = False, digits: int = 3) -> str:
    """Declare a metric (or a family prefix) and return its name, so modules can keep a constant for it."""
    spec = MetricSpec(name, display, higher_is_better, task, aggregation, family, digits)
    table = _FAMILIES if family else _METRICS
    if name in table and table[name] != spec:
        raise ValueError(f"metric {name!r} is already declared differently")
    table[name] = spec
    return name


def spec(name: str) -> MetricSpec:
    """The declaration of ``name``; a family member (``f1_anger``) resolves to its family's declaration."""
    if name in _METRICS:
        return _METRICS[name]
    for prefix, family in _FAMILIES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return MetricSpec(name, family.display.format(name[len(prefix):]), family.higher_is_better, family.task,
                              family.aggregation, digits=family.digits)
    raise unknown("metric", name, [*_METRICS, *(f"{p}<name>" for p in _FAMILIES)])


def higher_is_better(name: str) -> bool:
    return spec(name).higher_is_better


def display(name: str) -> str:
    """The human-readable name of a metric (``macro-F1``), for titles, axes and column headers."""
    return spec(name).display


def is_family_member(name: str) -> bool:
    """A per-class metric such as ``f1_anger`` (not a declared scalar that happens to share the prefix)."""
    return name not in _METRICS and any(name.startswith(p) and len(name) > len(p) for p in _FAMILIES)


def names(task: str | None = None) -> list[str]:
    """Declared scalar metrics (families excluded), optionally of one task, in declaration order."""
    return [n for n, s in _METRICS.items() if task is None or s.task == task]


def lower_is_better() -> frozenset[str]:
    return frozenset(n for n, s in _METRICS.items() if not s.higher_is_better)


# -- the declarations ---------------------------------------------------------------------------------------------
MACRO_F1 = register_metric("macro_f1", "macro-F1", True, "emotion")
MICRO_F1 = register_metric("micro_f1", "micro-F1", True, "emotion")
WEIGHTED_F1 = register_metric("weighted_f1", "weighted-F1", True, "emotion")
SAMPLE_PRECISION = register_metric("sample_precision", "sample precision", True, "emotion")
BRIER = register_metric("brier", "Brier", False, "emotion")
ECE = register_metric("ece", "ECE", False, "emotion")
PER_CLASS_F1 = "per_class_f1"  # the array behind the f1_<emotion> family; never a results-file name
F1 = register_metric("f1_", "F1 {}", True, "emotion", family=True)
CCC = register_metric("ccc_", "CCC {}", True, "attributes", family=True, digits=4)
CCC_MEAN = register_metric(CCC + "mean", "mean CCC", True, "attributes", digits=4)


def f1_key(emotion: str) -> str:
    """Flat results-file name of one emotion's F1 (``f1_anger``)."""
    return _FAMILIES[F1].member(emotion)


def ccc_key(attribute: str) -> str:
    """Flat results-file name of one attribute's CCC (``ccc_arousal``)."""
    return _FAMILIES[CCC].member(attribute)
