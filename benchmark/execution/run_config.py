"""A run's settings as a file: ``avbench run --config run.toml``, and the resolved configuration a run records.

The file's keys are ``avbench run``'s options (``--seed-list`` is ``seed_list``, ``--set`` a table ``[set]``), plus
a ``[slurm]`` table for the Slurm executor's resources. Options given on the command line (or through their
environment variable) override the file; ``--set`` pairs are merged into the file's ``[set]`` table, key by key.
Every run writes the configuration it resolved into ``run.json`` (``configuration``: the models and corruptions
resolved to names, the seeds listed), so ``avbench run --config RUN_DIR`` (or ``RUN_DIR/run.json``) repeats it into
a new directory. The same typed model reads both, so a mistyped key or value is one error line naming the file and
the field.

Why one model for both: a configuration that a run can record but not read back (or the reverse) would make
"repeat this run" depend on which file you started from.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from avbench.errors import UserError, read_json, validated
from avbench.execution.executors import DEFAULT_SLURM_MINUTES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

RUN_FILE_SUFFIXES = (".toml", ".json")
_MEMORY = re.compile(r"^[1-9][0-9]*[KMGT]?$", re.IGNORECASE)
# Slurm's --time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes,
# days-hours:minutes:seconds
_TIME = re.compile(r"^(?:(?P<days>\d+)-(?P<dh>\d+)(?::(?P<dm>\d+)(?::(?P<ds>\d+))?)?"
                   r"|(?P<a>\d+)(?::(?P<b>\d+)(?::(?P<c>\d+))?)?)$")


def slurm_minutes(value: str) -> int:
    """A Slurm time limit in whole minutes (seconds rounded up), from any of Slurm's ``--time`` forms."""
    found = _TIME.match(value.strip())
    if not found:
        raise ValueError(f"{value!r} is not a Slurm time (minutes, HH:MM:SS or D-HH:MM:SS)")
    parts = {k: int(v) for k, v in found.groupdict().items() if v is not None}
    if "days" in parts:
        seconds = (parts["days"] * 24 + parts["dh"]) * 3600 + parts.get("dm", 0) * 60 + parts.get("ds", 0)
    elif "c" in parts:
        seconds = parts["a"] * 3600 + parts["b"] * 60 + parts["c"]
    else:
        seconds = parts["a"] * 60 + parts.get("b", 0)
    if seconds < 1:
        raise ValueError("must be longer than zero")
    return -(-seconds // 60)


class SlurmResources(BaseModel):
    """What each Slurm job of a run asks for (one job per unit). Unset fields keep the defaults: 24 h, 1 CPU, no
    partition or account (the cluster's defaults), the cluster's default memory, and one GPU per job when the run's
    device is CUDA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: StrictStr | None = Field(None, description="Slurm partition (sbatch --partition)")
    account: StrictStr | None = Field(None, description="account charged (sbatch --account)")
    mem: StrictStr | None = Field(None, description="memory per job, e.g. 16G (sbatch --mem; no suffix = MB)")
    time: StrictStr | None = Field(None, description="time limit per job: minutes or Slurm's [D-]HH:MM:SS "
                                                     "(default 24 h)")
    gpus_per_task: StrictInt | None = Field(None, ge=0, description="GPUs per job (default 1 with a CUDA device, "
                                                                    "else 0)")
    cpus_per_task: StrictInt | None = Field(None, ge=1, description="CPUs per job (default 1)")

    @field_validator("mem")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY.match(value):
            raise ValueError(f"{value!r} is not a Slurm memory size (a positive integer with K, M, G or T)")
        return value

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        """Minutes may be written as a number (``time = 90``); the limit is kept as Slurm text."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            slurm_minutes(value)  # raises on a malformed limit
        return value

    @property
    def minutes(self) -> int:
        return DEFAULT_SLURM_MINUTES if self.time is None else slurm_minutes(self.time)

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RunConfig(BaseModel):
    """``avbench run``'s settings; every field is optional (unset: the option's default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    models: list[StrictStr] | None = Field(None, description="model names, or ['all'] (a string 'a,b' is split)")
    corruption: list[StrictStr] | None = Field(None, description="corruption names, 'random' or 'all' (a string "
                                                                 "'a,b' is split)")
    modality: StrictStr | None = Field(None, description="target of 'random': audio, video, text or all")
    dataset: StrictStr | None = Field(None, description="embedded dataset name or feature store path")
    dataset_seed: StrictInt | None = Field(None, ge=0, description="seed of an embedded dataset (default 0)")
    task: StrictStr | None = Field(None, description="a registered task (default: each model's own)")
    seeds: StrictInt | None = Field(None, ge=1, description="number of seeds 0..N-1")
    seed_list: list[StrictInt] | None = Field(None, description="explicit seeds")
    config: StrictStr | None = Field(None, description="model configuration: tiny or paper")
    overrides: dict[str, Any] | None = Field(None, alias="set", description="constructor overrides of every model")
    bootstrap: StrictInt | None = Field(None, description="bootstrap resamples")
    out: StrictStr | None = Field(None, description="run directory")
    executor: StrictStr | None = Field(None, description="local, ray or slurm")
    workers: StrictInt | None = Field(None, description="parallel units")
    ray_address: StrictStr | None = Field(None, description="address of an existing Ray cluster")
    device: StrictStr | None = Field(None, description="cpu, cuda or cuda:N")
    resume: StrictBool | None = Field(None, description="skip units whose outputs are present")
    mask_seed: StrictInt | None = Field(None, description="seed of the corruption masks")
    epochs: StrictInt | None = Field(None, description="override every recipe's epochs")
    precision: StrictStr | None = Field(None, description="fp32 or bf16")
    split: StrictStr | None = Field(None, description="evaluation split: test or dev")
    slurm: SlurmResources | None = Field(None, description="resources of each Slurm job")
    protocols: list[StrictStr] | None = Field(None, description="training protocols, or ['all'] (a string 'a,b' is "
                                                                "split; default: each model's recipe)")
    traces: StrictStr | None = Field(None, description="`trace`: folder of loss traces")
    packet_ms: float | None = Field(None, gt=0, description="`trace`: packet length in ms")
    ge_params: list[StrictStr] | None = Field(None, description="`gilbert-elliott`: levels p,r,k,h")

    @field_validator("models", "corruption", "protocols", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """``models = "raver,ser"`` as on the command line, or a list."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("config")
    @classmethod
    def _model_config(cls, value: str | None) -> str | None:
        if value is not None and Path(value).suffix in RUN_FILE_SUFFIXES:
            raise ValueError("names a model configuration (tiny, paper), not another file")
        return value

    def given(self) -> dict[str, Any]:
        """The settings the file gives, by option name (``set`` as ``overrides``)."""
        return {k: v for k, v in self if v is not None}


# Options that decide one thing together: given on the command line, they replace the file's whole group.
EXCLUSIVE = (("seeds", "seed_list"), ("corruption", "modality"))
TABLES = ("overrides", "slurm")  # merged key by key: the command line's keys over the file's


def resolve(options: dict[str, Any], given: set[str], from_file: RunConfig | None) -> RunConfig:
    """The settings of one run: ``options`` (every option's value, its default where not given) under the file's
    settings under the options in ``given`` (those the user set). ``--seeds``/``--seed-list`` and
    ``--corruption``/``--modality`` override the file's pair as a whole; ``--set`` and the Slurm options merge
    into the file's tables key by key."""
    file_values = from_file.given() if from_file is not None else {}
    for group in EXCLUSIVE:
        if given & set(group):
            for key in group:
                file_values.pop(key, None)
    merged = {**options, **file_values, **{key: options[key] for key in given if key in options}}
    for key in TABLES:
        table = file_values.get(key)
        table = table.given() if isinstance(table, SlurmResources) else dict(table or {})
        merged[key] = {**table, **(options.get(key) or {} if key in given else {})} or None
    return parse(merged, "run settings (--config file and options)")


def is_run_file(value: str) -> bool:
    """``--config`` names a run configuration (a .toml file, a ``run.json`` or a run directory) rather than a model
    configuration (``tiny``, ``paper``)."""
    path = Path(value).expanduser()
    return path.suffix in RUN_FILE_SUFFIXES or path.is_dir()


def parse(data: Any, where: str | Path) -> RunConfig:
    """A run configuration object checked field by field (one error line naming ``where`` and the field)."""
    return validated(RunConfig.model_validate, data, where, "expected a table of run settings")


def load(value: str) -> RunConfig:
    """The run configuration ``--config`` names: a TOML file, or a run's ``run.json`` (or its directory), whose
    recorded ``configuration`` repeats it."""
    path = Path(value).expanduser()
    if path.is_dir():
        path = path / "run.json"
    if not path.is_file():
        raise UserError(f"--config {value}: no such run configuration file (expected a .toml file, a run.json or a "
                        "run directory; tiny and paper name model configurations)")
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"{path}: not a readable TOML file ({exc})") from None
        return parse(data, path)
    record = read_json(path)
    if not isinstance(record, dict) or "configuration" not in record:
        raise UserError(f"{path}: no recorded configuration to repeat (a run.json of a run made by this avbench "
                        "has one)")
    return parse(record["configuration"], f"{path}: configuration")


def _configured_corruptions(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The options that configured a run's corruptions (``--traces``, ``--packet-ms``, ``--ge-params``), from the
    settings :mod:`avbench.corruptions.configured` recorded, so that repeating a run configures them again."""
    found: dict[str, Any] = {}
    for name, values in (settings or {}).items():
        if "folder" in values:
            found["traces"] = str(values["folder"])
        if "packet_ms" in values:
            found["packet_ms"] = float(values["packet_ms"])
        if "ge_params" in values:
            found["ge_params"] = [str(v) for v in values["ge_params"]]
    return found


def recorded(spec: Any) -> dict[str, Any]:
    """The configuration a run writes into ``run.json``: its resolved grid and settings, without where it was
    written (``out``, ``resume``), so that repeating it makes a new run of the same grid."""
    config = RunConfig(models=list(spec.models), corruption=list(spec.corruptions), dataset=spec.dataset,
                       dataset_seed=spec.dataset_seed, task=spec.task, seed_list=list(spec.seeds), config=spec.config,
                       overrides=dict(spec.overrides), bootstrap=spec.bootstrap, executor=spec.executor,
                       workers=spec.workers, ray_address=spec.ray_address, device=spec.device,
                       mask_seed=spec.mask_seed, epochs=spec.epochs, precision=spec.precision, split=spec.split,
                       slurm=spec.slurm, protocols=list(spec.training_protocols),
                       **_configured_corruptions(spec.corruption_settings))
    return json.loads(config.model_dump_json(exclude_none=True))
