"""The numbers ``avbench datasets info`` prints, computed from a loaded corpus or an extracted store (kept apart
from rendering)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from avbench.corpora.checks import problems, store_checks
from avbench.corpora.labels import CorpusLabels
from avbench.data.store import FeatureStore
from avbench.data.vocabulary import ATTRIBUTES, SPLITS


@dataclass(frozen=True)
class Stats:
    mean: float
    min: float
    max: float
    known: int  # clips the statistic is computed over


def _stats(values: np.ndarray) -> Stats | None:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return Stats(float(values.mean()), float(values.min()), float(values.max()), int(values.size))


@dataclass(frozen=True)
class CorpusSummary:
    name: str
    clips: int
    speakers: int
    excluded: dict[str, int]  # reason -> clips
    raters: Stats | None
    duration: Stats | None
    prevalence: dict[str, int]  # emotion -> clips where its vote share exceeds 1/C
    multi_label: dict[int, int]  # number of emotions present -> clips
    splits: dict[str, tuple[int, int]]  # split -> (clips, speakers)
    attributes: dict[str, Stats]
    options: dict[str, object]
    attribution: str | None


def summarize(corpus: CorpusLabels) -> CorpusSummary:
    clips = corpus.clips
    binary = corpus.binary()
    splits = {
        s: (int((clips["split"] == s).sum()), int(clips.loc[clips["split"] == s, "speaker"].nunique()))
        for s in SPLITS
    }
    attributes = corpus.attribute_matrix()
    attribute_stats = {name: _stats(attributes[:, i]) for i, name in enumerate(ATTRIBUTES)}
    return CorpusSummary(
        name=corpus.name,
        clips=len(clips),
        speakers=int(clips["speaker"].nunique()),
        excluded=dict(Counter(corpus.excluded.values())),
        raters=_stats(clips["n_raters"].to_numpy(np.float64)),
        duration=_stats(clips["duration"].to_numpy(np.float64)),
        prevalence={e: int(binary[:, i].sum()) for i, e in enumerate(corpus.emotions)},
        multi_label=dict(sorted(Counter(binary.sum(axis=1).astype(int).tolist()).items())),
        splits=splits,
        attributes={k: v for k, v in attribute_stats.items() if v is not None},
        options=dict(corpus.options),
        attribution=corpus.attribution,
    )


@dataclass(frozen=True)
class StoreDescription:
    """What ``avbench datasets info STORE`` prints about an extracted feature store."""

    path: str
    name: str
    splits: dict[str, int]  # split -> clips
    split: str  # the corpus's own split, or how it was re-dealt for a partial checkout
    tasks: tuple[str, ...]  # tasks the store has labels for
    modalities: dict[str, dict[str, str]]  # modality -> shape, dtype, rate, frames, encoder (sha256)
    failures: dict[str, int]  # reason -> clips left out because extraction failed
    failure_list: str | None  # the file listing every failed clip
    problems: list[str]  # degenerate-feature findings


def describe_store(store: FeatureStore) -> StoreDescription:
    extraction = store.meta.get("extraction", {})
    digests = extraction.get("settings", {}).get("encoders", {})
    failed = store.meta.get("failed_clips") or {}
    list_name = failed.get("list") if isinstance(failed, dict) else None
    return StoreDescription(
        path=str(store.path),
        name=store.name,
        splits={s: int(len(store.split_indices(s))) for s in SPLITS},
        split=str(store.meta.get("split", "corpus" if "corpus" in store.meta else "generated")),
        tasks=store.labelled_tasks,
        modalities={m: {"shape": "x".join(map(str, spec["shape"])), "dtype": str(spec.get("dtype", "")),
                        "rate": f"{spec.get('rate', 0):g}/s", "frames": str(spec.get("total", "")),
                        "encoder": digests.get(m, "not recorded")}
                    for m, spec in store.modalities.items()},
        failures=dict(failed.get("by_reason", {})) if isinstance(failed, dict) else {},
        failure_list=str(store.path.with_name(list_name)) if list_name else None,
        problems=problems(store_checks(store)),
    )
