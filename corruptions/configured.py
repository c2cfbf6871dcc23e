"""Corruptions configured on the command line: a trace folder for ``trace``, measured parameters for
``gilbert-elliott``.

Units receive corruptions by name, so a configuration travels beside the names as plain JSON ("settings"): the
runner hands it to every unit (``UnitContext.extra``), ``run.json`` records it, and :func:`resolve` turns a name
and the settings back into the configured :class:`~avbench.corruptions.base.Corruption` in any process. What
identifies a configuration for resuming is :func:`identity`: a trace folder's content digest, packet length and
levels, never the folder's path or its files' times (the same traces copied elsewhere resume the run).
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from avbench.corruptions.base import Corruption
from avbench.errors import UserError
from avbench.corruptions.trace_demo import DEMO_DIR
from avbench.corruptions.traces import PACKET_MS, read_traces, trace_settings
from avbench.corruptions.gilbert_elliott import parse_ge_params
from avbench.corruptions import get
from avbench.corruptions.traces import recorded_trace_corruption
from avbench.corruptions.gilbert_elliott import CLEAN, ge_level, gilbert_elliott

TRACE = "trace"
GILBERT_ELLIOTT = "gilbert-elliott"
Settings = dict[str, dict[str, Any]]  # corruption name -> its JSON settings
_LOCATIONS = ("folder",)  # where things are, not what they are: left out of the identity


def corruption_settings(names: list[str], traces: str | Path | None = None, packet_ms: float | None = None,
                        ge_params: list[str] | None = None) -> Settings:
    """Settings from the command-line options, every value checked (a bad folder is one error line).

    ``--traces``/``--packet-ms`` configure ``trace`` (the demo folder when only the packet length is given) and
    ``--ge-params`` (repeatable) ``gilbert-elliott``; an option for a corruption that is not selected is an error,
    since it would not do what was asked.
    """

    settings: Settings = {}
    if traces is not None or packet_ms is not None:
        if TRACE not in names:
            raise UserError("--traces and --packet-ms configure the 'trace' corruption, which --corruption does not "
                            "select")
        settings[TRACE] = trace_settings(read_traces(traces if traces is not None else DEMO_DIR,
                                                     packet_ms if packet_ms is not None else PACKET_MS))
    if ge_params:
        if GILBERT_ELLIOTT not in names:
            raise UserError("--ge-params configures the 'gilbert-elliott' corruption, which --corruption does not "
                            "select")

        settings[GILBERT_ELLIOTT] = {"params": [list(parse_ge_params(text)) for text in ge_params]}
    return settings


def identity(settings: Settings) -> Settings:
    """The settings without locations: what changes masks and results."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _LOCATIONS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(settings)


def variant(name: str, settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity({name: settings}), sort_keys=True).encode()).hexdigest()[:16]


def resolve(name: str, settings: Settings | None = None) -> Corruption:
    """The corruption ``name`` as configured by ``settings`` (the registered one when they do not mention it)."""
    own = (settings or {}).get(name)
    if own is None:

        return get(name)
    return _configured(name, json.dumps(own, sort_keys=True))


@functools.lru_cache(maxsize=16)
def _configured(name: str, text: str) -> Corruption:
    own = json.loads(text)
    if name == TRACE:

        return recorded_trace_corruption(own, variant(name, own))
    if name == GILBERT_ELLIOTT:

        levels = {CLEAN.label: CLEAN}
        for params in own["params"]:
            level = ge_level(*params)
            levels.setdefault(level.label, level)
        return gilbert_elliott(tuple(levels.values()), variant(name, own))
    raise UserError(f"corruption {name!r} takes no settings (only {TRACE} and {GILBERT_ELLIOTT} are configurable)")
