"""``run.json`` as one typed record: what the runner writes, and what ``show``, ``compare``, ``submit`` and the
reports read back.

A run directory's ``run.json`` passes through three states: ``running`` (the grid's spec and its hash, written once
every setting is valid), ``failed`` (the same, plus the error) and ``complete`` (the provenance of
:func:`avbench.rundir.provenance.provenance`: code, data, settings, machine, per-model evaluation path). Every
reader goes through :func:`read_record`, so a field's type is checked in one place: a wrong type is one error line
naming the file and the field, never a traceback deep inside a reader. Unknown fields are kept (a newer avbench may
add some), and fields a state does not have are None.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from avbench.errors import UserError, read_json, validated
from avbench.execution.run_config import RunConfig

RUN_JSON = "run.json"


class RunRecord(BaseModel):
    """The fields of ``run.json``; the provenance fields are present once the run is complete."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    status: Literal["running", "failed", "complete"]
    spec_hash: str | None = None
    spec: dict[str, Any] = {}
    error: str | None = None
    holder: dict[str, Any] | None = None  # the process writing a running run: host, pid, start time
    # provenance of a complete run
    avbench_version: str | None = None
    git_commit: str | None = None
    command: str | None = None
    dataset: str | None = None
    dataset_fingerprint: str | None = None
    config: str | None = None
    models: list[str] | None = None
    model_tasks: dict[str, str] | None = None
    config_hashes: dict[str, str] | None = None
    code_hashes: dict[str, str] | None = None
    checkpoint_hashes: dict[str, str] | None = None
    checkpoint_weights_sha256: dict[str, dict[str, str]] | None = None
    task: str | None = None
    epochs: int | None = None
    corruptions: dict[str, list[str]] | None = None
    seeds: list[int] | None = None
    dataset_seed: int | None = None
    mask_seed: int | None = None
    bootstrap_seed: int | None = None
    bootstrap: int | None = None
    overrides: dict[str, Any] | None = None
    emotions: list[str] | None = None
    attributes: list[str] | None = None
    library_versions: dict[str, str] | None = None
    device: str | None = None
    precision: str | None = None
    executor: str | None = None
    platform: str | None = None
    wall_time_s: float | None = None
    evaluation: dict[str, dict[str, Any]] | None = None
    corruption_settings: dict[str, dict[str, Any]] | None = None  # configured corruptions (trace folders, GE levels)
    split: str = "test"
    # the resolved settings (avbench.execution.run_config), so `avbench run --config RUN_DIR` repeats the run
    configuration: RunConfig | None = None
    training: dict[str, str] | None = None  # label -> training protocol, for a run with --protocols

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def setting(self, key: str, default: Any = None) -> Any:
        """A run setting: the provenance field of a complete run, else the spec's (an unfinished run has only that)."""
        value = getattr(self, key, None) if key in type(self).model_fields else (self.model_extra or {}).get(key)
        return value if value is not None else self.spec.get(key, default)

    @property
    def resamples(self) -> int:
        return int(self.setting("bootstrap", 1000))

    @property
    def boot_seed(self) -> int:
        """The runner seeds the bootstrap with the mask seed (``bootstrap_seed``)."""
        return int(self.bootstrap_seed if self.bootstrap_seed is not None else self.spec.get("mask_seed", 0))

    def as_dict(self) -> dict[str, Any]:
        """The record as ``run.json`` holds it (fields a state lacks left out)."""
        return self.model_dump(exclude_none=True)


def parse_record(info: Any, where: str | Path) -> RunRecord:
    """A ``run.json`` object checked field by field; the first wrong field is one error line naming it."""
    return validated(RunRecord.model_validate, info, where)


def read_record(run_dir: Path) -> RunRecord:
    """A run directory's ``run.json``; missing, unreadable or mistyped is a :class:`UserError`."""
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        raise UserError(f"{run_dir} is not an avbench run directory (no {RUN_JSON})")
    return parse_record(read_json(path), path)


def find_record(run_dir: Path) -> RunRecord | None:
    """:func:`read_record`, or None where there is no readable run (for searching directories)."""
    try:
        return read_record(run_dir)
    except UserError:
        return None
