"""What ``run.json`` records so that a result can be traced and reproduced: code, data, settings, machine (its typed
reader is :mod:`avbench.rundir.record`)."""
from __future__ import annotations

import hashlib
import inspect
import platform
import subprocess
import sys
import time
from importlib import metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avbench import __version__
from avbench.execution.checkpoints import config_hash
from avbench.data.store import FeatureStore
from avbench.models import RECIPE, label_training, model_class, parse_label, task_for
from avbench.protocols import get as get_protocol

LIBRARIES = ("torch", "numpy", "scipy", "pandas", "transformers", "matplotlib", "typer", "rich")


def git_commit() -> str | None:
    """The commit of the avbench checkout, when it is one (None for an installed wheel)."""
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """The installed version of each of ``packages`` (those not installed left out)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def library_versions() -> dict[str, str]:
    """Python's and the libraries' versions a run records."""
    return {"python": platform.python_version(), **package_versions(LIBRARIES)}


def model_code_hash(name: str) -> str:
    """Digest of the source file that defines model ``name``: a model's identity beyond its settings."""
    source = inspect.getsourcefile(model_class(name))
    return hashlib.sha256(Path(source).read_bytes() if source else name.encode()).hexdigest()[:16]


def provenance(spec: Any, store: FeatureStore, labels: list[str], corruptions: list[Any],
               started: float, weights: dict[str, dict[int, str]]) -> dict[str, Any]:
    """``weights`` maps model label → seed → sha256 of its checkpoint weights. A label trained under a training
    protocol other than its recipe (``raver@clean``) has what the protocol does to it in its config hash, and is
    listed under ``training``."""
    tasks = {}
    hashes = {}
    names = {label: parse_label(label)[0] for label in labels}
    trained = {label: label_training(label) for label in labels}
    for label, name in names.items():
        cls = model_class(name)
        tasks[label] = task_for(cls, store.labelled_tasks, spec.task)
        described = {"model": name, "config": cls.config_for(spec.config, **spec.overrides),
                     "recipe": repr(cls.recipes[spec.config])}
        if trained[label] != RECIPE:
            described["training"] = get_protocol(trained[label]).training(cls, spec.config, spec.overrides).key()
        hashes[label] = config_hash(described)
    protocols = {"training": trained} if any(t != RECIPE for t in trained.values()) else {}
    return {
        "avbench_version": __version__,
        "git_commit": git_commit(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "dataset": store.name,
        "dataset_fingerprint": store.fingerprint,
        "config": spec.config,
        "models": labels,
        "model_tasks": tasks,
        "config_hashes": hashes,
        "code_hashes": {label: model_code_hash(name) for label, name in names.items()},
        "task": spec.task,
        "epochs": spec.epochs,
        "corruptions": {c.name: [lv.label for lv in c.levels] for c in corruptions},
        "checkpoint_hashes": {label: hashlib.sha256("".join(by_seed[s] for s in sorted(by_seed)).encode()).hexdigest()
                              for label, by_seed in weights.items()},
        "checkpoint_weights_sha256": {label: {str(s): h for s, h in sorted(by_seed.items())}
                                      for label, by_seed in weights.items()},
        "seeds": list(spec.seeds),
        "dataset_seed": spec.dataset_seed,
        "mask_seed": spec.mask_seed,
        "bootstrap_seed": spec.mask_seed,
        "bootstrap": spec.bootstrap,
        "overrides": spec.overrides,
        "emotions": store.emotions,
        "attributes": list(store.meta.get("attributes", [])),
        "library_versions": library_versions(),
        "device": spec.device,
        "precision": spec.precision,
        "executor": spec.executor,
        "platform": platform.platform(),
        "wall_time_s": round(time.time() - started, 2),
        **protocols,
    }
