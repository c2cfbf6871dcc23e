"""Model settings from the command line (``--config``, ``--set key=value``), checked before anything trains.

Each check raises :class:`~avbench.errors.UserError` naming the model and the setting, so a typo never costs a
training run. It lives beside the registry because it asks the models themselves: their configs, their
constructors' keyword-only settings, and a trial build whose own checks fire first.
"""
from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterable, Iterator
from typing import Any

from avbench.errors import UserError
from avbench.models.registry import get, model_class
import torch


def _value_ok(value: Any, default: Any) -> bool:
    """An override must have the type of the setting's default, and sizes (integers) must be positive."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list)) and (not default or all(_value_ok(v, default[0]) for v in value))
    return default is None or isinstance(value, type(default))


def check_settings(names: Iterable[str], config: str, overrides: dict[str, Any]) -> None:
    """Every model has ``config``; every override is a setting it knows, with a value of the right type.

    Each model is then built so constructor checks fire now, not after other models have trained: on the meta
    device (no memory) in general, but on the CPU for the tiny configuration without overrides, whose models are
    small (all of them in ~0.3 s) — a process's first meta-device build costs ~1.5 s of torch's lazy set-up, which
    is most of a warm default run's validation. The CPU build runs under a forked RNG, leaving the caller's
    random state as it was.
    """
    for name in names:
        cls = model_class(name)
        if config not in cls.configs:
            raise UserError(f"--config {config!r}: model {name!r} has configs {', '.join(cls.configs)}")
        params = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                  if p.kind is p.KEYWORD_ONLY}  # model settings are keyword-only after (dims, n_outputs, task)
        for setting in cls.configs.values():
            params.update(setting)
        for key, value in overrides.items():
            if key not in params:
                raise UserError(f"--set {key}: model {name!r} has no setting {key!r}; it has {', '.join(sorted(params))}")
            default = cls.configs[config].get(key, params[key])
            if default is not inspect.Parameter.empty and not _value_ok(value, default):
                raise UserError(f"--set {key}={value!r}: model {name!r} expects a value like {default!r}"
                                f"{' (sizes must be positive)' if isinstance(default, (int, tuple)) else ''}")
        try:
            with _construction_device(config, overrides):
                get(name, config=config, **overrides)
        except UserError:
            raise
        except Exception as exc:  # any constructor complaint is a bad setting
            raise UserError(f"--set for {name!r}: {type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def _construction_device(config: str, overrides: dict[str, Any]) -> Iterator[None]:
    """Where :func:`check_settings` builds a model (see there): the CPU for tiny without overrides, else meta."""

    if config == "tiny" and not overrides:
        with torch.random.fork_rng(devices=[]), torch.device("cpu"):
            yield
    else:
        with torch.device("meta"):
            yield
