"""Checkpoints as safetensors weights plus a JSON description — loading never unpickles anything.

A checkpoint is keyed by model, config, overrides, task, dataset fingerprint and seed, so training the same thing
twice reuses the first result, and a corrupt file is detected (and retrained) instead of crashing a run.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from avbench.atomic import write_json, write_with
from avbench.errors import UserError

JSON, WEIGHTS = "checkpoint.json", "weights.safetensors"


class CorruptCheckpoint(Exception):
    """The files exist but cannot be read back; the caller retrains."""


def config_hash(description: dict[str, Any]) -> str:
    """Short stable hash of a JSON-serialisable description."""
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def save(directory: Path, model: torch.nn.Module, description: dict[str, Any]) -> None:
    """Write weights first, then the JSON; the JSON's presence marks a complete checkpoint."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_with(directory / WEIGHTS, lambda p: save_file(state, str(p)), suffix=".safetensors")
    digest = hashlib.sha256((directory / WEIGHTS).read_bytes()).hexdigest()
    write_json(directory / JSON, {**description, "weights_sha256": digest})


def repair_layout(directory: Path) -> None:
    """Remove what stands where a checkpoint's files belong but is not a file (or, for the directory, not a
    directory), with a warning, so the checkpoint is retrained instead of failing with a traceback; what cannot be
    removed is one error line naming it."""
    files = [directory / name for name in (JSON, WEIGHTS)]
    broken = [directory] if directory.exists() and not directory.is_dir() else [
        path for path in files if path.exists() and not path.is_file()]
    for path in broken:
        found, belongs = ("a file", "a directory") if path == directory else ("a directory", "a file")
        warnings.warn(f"cached checkpoint {path} is {found} where {belongs} belongs; removing it and retraining")
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            raise UserError(f"cached checkpoint {path} is broken and cannot be removed ({exc.strerror or exc}); "
                            "remove it by hand") from None


def exists(directory: Path) -> bool:
    return (directory / JSON).is_file()


def load(directory: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load weights into ``model``; raise :class:`CorruptCheckpoint` on any inconsistency."""
    try:
        description = json.loads((directory / JSON).read_text())
        blob = (directory / WEIGHTS).read_bytes()
        if hashlib.sha256(blob).hexdigest() != description.get("weights_sha256"):
            raise CorruptCheckpoint(f"{directory}: weights do not match their recorded hash")
        state = load_file(str(directory / WEIGHTS))
        model.load_state_dict(state)
    except CorruptCheckpoint:
        raise
    except Exception as exc:  # any parse/shape error means the checkpoint cannot be trusted
        raise CorruptCheckpoint(f"{directory}: {type(exc).__name__}: {exc}") from None
    return description
