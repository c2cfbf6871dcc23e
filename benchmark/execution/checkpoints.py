"""Checkpoints as safetensors weights plus a JSON description — loading never unpickles anything.

A checkpoint is keyed by model, config, overrides, task, dataset fingerprint and seed, so training the same thing
twice reuses the first result, and a corrupt file is detected (and retrained) instead of crashing a run.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from avbench.atomic import write_json, write_with


class CorruptCheckpoint(Exception):
    """The files exist but cannot be read back; the caller retrains."""


def config_hash(description: dict[str, Any]) -> str:
    """Short stable hash of a JSON-serialisable description."""
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def save(directory: Path, model: torch.nn.Module, description: dict[str, Any]) -> None:
    """Write weights first, then the JSON; the JSON's presence marks a complete checkpoint."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_with(directory / "weights.safetensors", lambda p: save_file(state, str(p)), suffix=".safetensors")
    digest = hashlib.sha256((directory / "weights.safetensors").read_bytes()).hexdigest()
    write_json(directory / "checkpoint.json", {**description, "weights_sha256": digest})


def exists(directory: Path) -> bool:
    return (directory / "checkpoint.json").is_file()


def load(directory: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load weights into ``model``; raise :class:`CorruptCheckpoint` on any inconsistency."""
    try:
        description = json.loads((directory / "checkpoint.json").read_text())
        blob = (directory / "weights.safetensors").read_bytes()
        if hashlib.sha256(blob).hexdigest() != description.get("weights_sha256"):
            raise CorruptCheckpoint(f"{directory}: weights do not match their recorded hash")
        state = load_file(str(directory / "weights.safetensors"))
        model.load_state_dict(state)
    except CorruptCheckpoint:
        raise
    except Exception as exc:  # any parse/shape error means the checkpoint cannot be trusted
        raise CorruptCheckpoint(f"{directory}: {type(exc).__name__}: {exc}") from None
    return description
