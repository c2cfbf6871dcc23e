"""The leaderboard entry: one JSON file per model × dataset × protocol, with a versioned schema.

An entry is pure data so that anyone can read it without avbench, and so that nothing submitted is ever
executed. Two provenances exist side by side, as on RobustBench: ``reported`` (numbers copied from a paper) and
``verified`` (recomputed by ``avbench submit`` from per-clip predictions). Every number is a JSON float, never a
string, and loading validates types and ranges so a hand-edited file fails loudly with its file name.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from avbench.atomic import write_json
from avbench.errors import UserError
from avbench.tasks import names as task_names

SCHEMA_VERSION = 1
PROVENANCES = ("reported", "verified")
ENTRIES_DIR = Path(__file__).resolve().parent / "entries"
# The condition of the papers' tables that print a single, uncorrupted score.
CLEAN = ("none", "clean")

_SLUG_BAD = re.compile(r"[^a-z0-9._]+")


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: lower case, ``[a-z0-9._-]`` only, no leading dot, never empty.

    Model labels such as ``raver[n_ctx=16]`` or ``pkg.mod:Class`` come from submissions, so nothing in them may
    reach the file system unfiltered (no ``/``, no ``..``, no hidden files).
    """
    cleaned = _SLUG_BAD.sub("-", text.lower()).strip("-.")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    if not cleaned:
        raise UserError(f"cannot build a file name from {text!r}")
    return cleaned[:120]


@dataclass(frozen=True)
class ModelInfo:
    """Who the model is and where it comes from (hashes pin the exact configuration and weights)."""

    name: str
    label: str | None = None  # avbench registry label (with overrides) when the model runs in avbench
    paper: str = ""
    citation: str = ""
    code: str | None = None
    config_hash: str | None = None
    checkpoint_hash: str | None = None  # sha256 over the seeds' weight files, checked against the predictions
    code_hash: str | None = None  # digest of the model's source file in the avbench that verified the entry
    # how the numbers were made (verified entries; None = not recorded): was the model told which frames were lost,
    # and was its frontend folded or the whole model run per level (avbench.execution.contract)
    sees_masks: bool | None = None
    eval_path: str | None = None
    # the training protocol of the weights (avbench.protocols): "recipe" = the model's own recipe, as every paper
    # reports; boards rank only entries trained under the same protocol
    training: str = "recipe"


@dataclass(frozen=True)
class Protocol:
    """What was measured: entries are only ranked against entries with the same dataset, split and task;
    verified entries additionally pin the clip ids and the mask digests of every level."""

    name: str  # "raver-ojsp2025" for a paper's protocol, "avbench-<digest>" for a verified one
    dataset: str
    task: str
    split: str = "test"
    corruptions: dict[str, list[str]] = field(default_factory=dict)  # corruption -> level labels
    seeds: list[int] | None = None
    mask_seed: int | None = None
    dataset_fingerprint: str | None = None
    clip_ids_sha256: str | None = None
    n_clips: int | None = None
    mask_digests: dict[str, dict[str, str]] = field(default_factory=dict)  # corruption -> level -> sha256
    evaluation: str = ""  # free text, e.g. "5 seeds × 5 test subsets, two-tailed t-test"


@dataclass(frozen=True)
class MetricValue:
    """One number of one condition, with its confidence interval and the paper's significance markers."""

    corruption: str
    level: str
    x: float
    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    markers: str = ""


@dataclass(frozen=True)
class Entry:
    """A leaderboard entry; ``source`` says which table it was copied from or which run it was verified from."""

    provenance: str
    model: ModelInfo
    protocol: Protocol
    metrics: list[MetricValue]
    source: dict[str, Any] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # corruption -> robustness summary
    # verified only: {"seed", "n_resamples", "scores": {corruption: {"auc" | "clean": [B floats]} or
    # {"levels": {level: [B floats]}} for a categorical corruption}}; every entry
    # of a protocol resamples the same clips, so two entries' distributions pair up for significance tests
    bootstrap: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def id(self) -> str:
        """The file stem: model × dataset × protocol, plus the provenance so both kinds can coexist."""
        return "--".join(slug(p) for p in (self.model.label or self.model.name, self.protocol.dataset,
                                           self.protocol.name, self.provenance))

    def value(self, corruption: str, level: str, metric: str) -> MetricValue | None:
        for m in self.metrics:
            if (m.corruption, m.level, m.metric) == (corruption, level, metric):
                return m
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _optional_number(value: Any, where: str) -> float | None:
    return None if value is None else _number(value, where)


def _fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """Check that ``data`` is an object with exactly the dataclass's known keys (typos must not pass)."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected an object, got {type(data).__name__}")
    known = set(cls.__dataclass_fields__)
    extra = sorted(set(data) - known)
    if extra:
        raise UserError(f"{where}: unknown field(s) {', '.join(extra)}")
    return data


def _metric(data: Any, where: str) -> MetricValue:
    d = _fields(MetricValue, data, where)
    for key in ("corruption", "level", "metric"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise UserError(f"{where}: {key!r} must be a non-empty string")
    m = MetricValue(
        corruption=d["corruption"], level=d["level"], x=_number(d.get("x"), f"{where}.x"), metric=d["metric"],
        value=_number(d.get("value"), f"{where}.value"), ci_low=_optional_number(d.get("ci_low"), f"{where}.ci_low"),
        ci_high=_optional_number(d.get("ci_high"), f"{where}.ci_high"), markers=str(d.get("markers", "")),
    )
    if (m.ci_low is None) != (m.ci_high is None):
        raise UserError(f"{where}: give both ci_low and ci_high or neither")
    if m.ci_low is not None and not m.ci_low <= m.ci_high:  # type: ignore[operator]
        raise UserError(f"{where}: ci_low {m.ci_low} is above ci_high {m.ci_high}")
    return m


def entry_from_dict(data: Any, where: str = "entry") -> Entry:
    """Validate a parsed JSON object and build an :class:`Entry` (UserError names the first problem)."""
    d = _fields(Entry, data, where)
    if d.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"{where}: unsupported schema_version {d.get('schema_version')!r} (expected {SCHEMA_VERSION})")
    if d.get("provenance") not in PROVENANCES:
        raise UserError(f"{where}: provenance must be one of {', '.join(PROVENANCES)}, got {d.get('provenance')!r}")
    model = ModelInfo(**_fields(ModelInfo, d.get("model"), f"{where}.model"))
    if not isinstance(model.name, str) or not model.name:
        raise UserError(f"{where}.model: 'name' must be a non-empty string")
    if model.sees_masks not in (None, True, False) or model.eval_path not in (None, "folded", "honest"):
        raise UserError(f"{where}.model: sees_masks must be true, false or null and eval_path 'folded', 'honest' "
                        "or null")
    if not isinstance(model.training, str) or not model.training:
        raise UserError(f"{where}.model: 'training' must be a non-empty string (the training protocol)")
    protocol = Protocol(**_fields(Protocol, d.get("protocol"), f"{where}.protocol"))
    for key in ("name", "dataset", "split"):
        if not isinstance(getattr(protocol, key), str) or not getattr(protocol, key):
            raise UserError(f"{where}.protocol: {key!r} must be a non-empty string")
    if protocol.task not in task_names():
        raise UserError(f"{where}.protocol: task must be one of {', '.join(task_names())}, got {protocol.task!r}")
    metrics = d.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise UserError(f"{where}: 'metrics' must be a non-empty list")
    values = [_metric(m, f"{where}.metrics[{i}]") for i, m in enumerate(metrics)]
    keys = [(m.corruption, m.level, m.metric) for m in values]
    if len(set(keys)) != len(keys):
        raise UserError(f"{where}: a metric appears twice for the same condition")
    return Entry(
        provenance=d["provenance"], model=model, protocol=protocol, metrics=values,
        source=dict(d.get("source") or {}), summaries=dict(d.get("summaries") or {}),
        bootstrap=dict(d.get("bootstrap") or {}),
    )


def load_entry(path: str | Path) -> Entry:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read leaderboard entry {path}: {exc}") from None
    return entry_from_dict(data, where=path.name)


def load_entries(directory: str | Path | None = None) -> list[Entry]:
    """All entries of a directory (default: the shipped ``leaderboards/entries``), in file-name order."""
    root = Path(directory) if directory is not None else ENTRIES_DIR
    if not root.is_dir():
        raise UserError(f"no leaderboard entries directory at {root}")
    return [load_entry(p) for p in sorted(root.glob("*.json"))]


def entry_path(entry: Entry, directory: str | Path | None = None) -> Path:
    """Where ``entry`` is stored; the slugged id guarantees the path stays inside ``directory``."""
    root = (Path(directory) if directory is not None else ENTRIES_DIR).resolve()
    path = (root / f"{entry.id}.json").resolve()
    if path.parent != root:
        raise UserError(f"refusing to write outside {root}: {path}")
    return path


def write_entry(entry: Entry, directory: str | Path | None = None) -> Path:
    path = entry_path(entry, directory)
    write_json(path, entry.to_dict())
    return path
