"""The leaderboard entry: one JSON file per model × dataset × protocol, with a versioned schema.

An entry is pure data so that anyone can read it without avbench, and so that nothing submitted is ever
executed. Two provenances exist side by side, as on RobustBench: ``reported`` (numbers copied from a paper) and
``verified`` (recomputed by ``avbench submit`` from per-clip predictions). The classes are pydantic dataclasses:
every field is typed strictly (a number is a JSON number, never a string; a list is a list), unknown fields are
refused, and every metric value lies in its metric's range, so a hand-edited file fails with one line naming the
file and the field, and ``avbench schema entry`` prints the JSON Schema submitters can check against.
"""
from __future__ import annotations

import re
from dataclasses import asdict, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, field_validator,
                      model_validator)
from pydantic.dataclasses import dataclass

from avbench.atomic import write_json
from avbench.errors import UserError, read_json, validated
from avbench.scoring.metrics import spec as metric_spec
from avbench.tasks import names as task_names

SCHEMA_VERSION = 1
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


# JSON types, strictly: a string is never read as a number, nor a number as a string or a boolean
Text = Annotated[StrictStr, Field(min_length=1)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Hash = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{8,64}$")]
ENTRY_CONFIG = ConfigDict(extra="forbid")  # a typo in a field name must not pass


@dataclass(frozen=True, config=ENTRY_CONFIG)
class ModelInfo:
    """Who the model is and where it comes from (hashes pin the exact configuration and weights)."""

    name: Text
    label: Text | None = None  # avbench registry label (with overrides) when the model runs in avbench
    paper: StrictStr = ""
    citation: StrictStr = ""
    code: StrictStr | None = Field(None, description="link to the model's code")
    config_hash: Hash | None = None
    checkpoint_hash: Hash | None = None  # sha256 over the seeds' weight files, checked against the predictions
    code_hash: Hash | None = None  # digest of the model's source file in the avbench that verified the entry
    # how the numbers were made (verified entries; None = not recorded): was the model told which frames were lost,
    # and was its frontend folded or the whole model run per level (avbench.execution.contract)
    sees_masks: StrictBool | None = None
    eval_path: Literal["folded", "honest"] | None = None
    # the training protocol of the weights (avbench.protocols): "recipe" = the model's own recipe, as every paper
    # reports; boards rank only entries trained under the same protocol
    training: StrictStr = Field("recipe", min_length=1)


@dataclass(frozen=True, config=ENTRY_CONFIG)
class Protocol:
    """What was measured: entries are only ranked against entries with the same dataset, split and task;
    verified entries additionally pin the clip ids and the mask digests of every level."""

    name: Text  # "raver-ojsp2025" for a paper's protocol, "avbench-<digest>" for a verified one
    dataset: Text
    task: Text
    split: Text = "test"
    corruptions: dict[Text, list[Text]] = field(default_factory=dict)  # corruption -> level labels
    seeds: list[Annotated[StrictInt, Field(ge=0)]] | None = None
    mask_seed: Annotated[StrictInt, Field(ge=0)] | None = None
    dataset_fingerprint: StrictStr | None = None
    clip_ids_sha256: Hash | None = None
    n_clips: Annotated[StrictInt, Field(ge=1)] | None = None
    mask_digests: dict[Text, dict[Text, StrictStr]] = field(default_factory=dict)  # corruption -> level -> sha256
    evaluation: StrictStr = ""  # free text, e.g. "5 seeds × 5 test subsets, two-tailed t-test"

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        if task not in task_names():
            raise ValueError(f"must be one of {', '.join(task_names())}")
        return task


@dataclass(frozen=True, config=ENTRY_CONFIG)
class MetricValue:
    """One number of one condition, with its confidence interval and the paper's significance markers."""

    corruption: Text
    level: Text
    x: Number
    metric: Text
    value: Number
    ci_low: Number | None = None
    ci_high: Number | None = None
    markers: StrictStr = ""

    @model_validator(mode="after")
    def _interval_and_range(self) -> MetricValue:
        """Both interval ends or neither, in order, and every number inside the range the metric can take (a
        registered metric's ``bounds``: a macro-F1 of 2.0 is a typo, not a result). Interval ends are not bounded: a
        t interval over a few seeds may reach past the range a score can take, and saying so is honest."""
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("give both ci_low and ci_high or neither")
        if self.ci_low is not None and not self.ci_low <= self.ci_high:  # type: ignore[operator]
            raise ValueError(f"ci_low {self.ci_low} is above ci_high {self.ci_high}")
        bounds = metric_bounds(self.metric)
        if bounds is not None:
            if not bounds[0] <= self.value <= bounds[1]:
                raise ValueError(f"value {self.value} of {self.metric} is outside [{bounds[0]:g}, {bounds[1]:g}]")
        return self


def metric_bounds(name: str) -> tuple[float, float] | None:
    """The range of a registered metric (None for a name avbench does not know, e.g. a paper's own)."""
    try:
        return metric_spec(name).bounds
    except UserError:
        return None


@dataclass(frozen=True, config=ENTRY_CONFIG)
class Entry:
    """A leaderboard entry; ``source`` says which table it was copied from or which run it was verified from."""

    provenance: Literal["reported", "verified"]
    model: ModelInfo
    protocol: Protocol
    metrics: Annotated[list[MetricValue], Field(min_length=1)]
    source: dict[str, Any] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # corruption -> robustness summary
    # verified only: {"seed", "n_resamples", "scores": {corruption: {"auc" | "clean": [S lists of B floats],
    # "seeds": [S floats]} or {"levels": {level: ...}, "seed_levels": {level: [S floats]}} for a categorical
    # corruption}}: every seed's resampled and test-set ranking scores; every entry
    # of a protocol resamples the same clips, so two entries' distributions pair up for significance tests
    bootstrap: dict[str, Any] = field(default_factory=dict)
    schema_version: Literal[SCHEMA_VERSION] = SCHEMA_VERSION

    @model_validator(mode="after")
    def _one_number_per_condition(self) -> Entry:
        keys = [(m.corruption, m.level, m.metric) for m in self.metrics]
        repeated = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
        if repeated is not None:
            raise ValueError(f"metric {repeated[2]} appears twice for {repeated[0]} {repeated[1]}")
        return self

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


ENTRY = TypeAdapter(Entry)


def entry_from_dict(data: Any, where: str = "entry") -> Entry:
    """Validate a parsed JSON object and build an :class:`Entry` (one error line naming ``where`` and the first
    wrong field)."""
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"{where}: unsupported schema_version {data.get('schema_version')!r} (expected "
                        f"{SCHEMA_VERSION})")
    return validated(ENTRY.validate_python, data, where, f"expected a JSON object, got {type(data).__name__}")


def load_entry(path: str | Path) -> Entry:
    return entry_from_dict(read_json(Path(path)), where=Path(path).name)


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
