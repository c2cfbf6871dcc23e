"""Loading the frozen encoders' weights without surprises.

Hugging Face models come from a local directory (``save_pretrained`` output) or a hub id; when that fails —
typically offline — the user gets one line naming the option to pass, not a stack trace. Plain checkpoints
(the AffectNet MobileNetV2) are read as safetensors or with ``torch.load(weights_only=True)``, which refuses
pickled code.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from avbench.errors import UserError


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1


def load_pretrained(spec: str, role: str, option: str, loader: Any, needs: tuple[str, ...] = ("config.json",),
                    **kwargs: Any) -> Any:
    """``loader.from_pretrained(spec)`` with a one-line :class:`UserError` telling which option to pass.

    ``needs``: files of which a local directory must hold at least one (``save_pretrained`` of the model alone
    does not write the feature extractor's or tokenizer's files, so the error names the file that is missing).
    """
    path = Path(spec).expanduser()
    if path.is_dir() and not any((path / name).is_file() for name in needs):
        raise UserError(f"{option} {spec}: the directory has no {' or '.join(needs)} for the {role}; save it there "
                        "too (e.g. its save_pretrained(directory)) or copy the file from the hub model")
    if path.exists():
        source = str(path)
    elif _looks_like_path(spec):
        raise UserError(f"{option} {spec}: no such directory")
    else:
        source = spec
    from transformers.utils import logging as hf_logging  # deferred: transformers

    hf_logging.disable_progress_bar()
    try:
        return loader.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot load the {role} model {spec!r} ({reason}); pass {option} with a local directory "
            "(a model saved with save_pretrained) or a Hugging Face hub id while online"
        ) from None


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path}: not a state dict of tensors")
    return obj


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file (``.safetensors`` or a ``torch.save``'d state dict), never unpickling code."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file  # deferred: safetensors

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise UserError(_unpickling_message(path, str(exc))) from None
    return _unwrap(obj, path)


def _unpickling_message(path: Path, error: str) -> str:
    """One line for a checkpoint ``torch.load(weights_only=True)`` refuses (torch's own text is long and coloured)."""
    pickled = re.search(r"Unsupported global: GLOBAL ([\w.]+)", error)
    fix = ("save its state dict alone, e.g. torch.save(model.state_dict(), 'weights.pt'), after loading the file "
           "with weights_only=False where you trust it, or convert it to safetensors")
    if pickled:
        return f"{path} holds a pickled {pickled.group(1)} object, not a state dict of tensors: {fix}"
    reason = re.sub(r"\x1b\[[0-9;]*m", "", error).strip().splitlines()
    return f"{path}: not loadable as plain tensors ({reason[0] if reason else 'unreadable'}): {fix}"


def strip_prefix(state: dict[str, torch.Tensor], anchor: str) -> dict[str, torch.Tensor]:
    """Drop wrapper prefixes (``module.``, ``model.``, ...) so keys start at ``anchor`` (e.g. ``features.``)."""
    out = {}
    for key, value in state.items():
        at = key.find(anchor)
        if at == 0 or (at > 0 and key[at - 1] == "."):
            out[key[at:]] = value
    return out


def content_digest(modules: dict[str, torch.nn.Module], settings: dict[str, Any]) -> str:
    """sha256 of every tensor of ``modules`` (names, dtypes, shapes, bytes) and of the preprocessing ``settings``.

    Extraction keys its finished parts by this digest rather than by the path given on the command line, so the
    same weights reached by another path resume, and other weights put under the same path are refused.
    """
    digest = hashlib.sha256()
    for prefix, module in sorted(modules.items()):
        for name, tensor in sorted(module.state_dict().items()):
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{prefix}.{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()
