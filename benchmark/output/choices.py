"""What the command line offers: each option's choices, taken from the registry or constant that decides them, shown
in ``--help`` and completed by the shell (``avbench --install-completion``).

An option made with :func:`choice` shows its choices as its metavar (``--executor local|ray|slurm``) and completes
them; the value is still checked by the one validator that owns it (``avbench.validate``, the registries), so a wrong
value is one error line with "did you mean", never a usage box. Choices whose registries are cheap to read at start
(formats, executors, listings, precisions, splits) are spelled out; those whose registries import torch or scan
plugins (models, corruptions, tasks, corpora) are completed by a callback that imports them only when the shell
asks, so ``avbench --help`` and ``avbench run`` start as fast as before.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from avbench.corruptions import RANDOM_TARGETS
from avbench.corruptions import names as corruption_names
from avbench.data.datasets import EMBEDDED
from avbench.data.vocabulary import EVALUATION_SPLITS
from avbench.execution import PRECISIONS
from avbench.execution.executors import EXECUTORS
from avbench.output import formats
from avbench.output.listing import LISTINGS
from avbench.output.schemas import SCHEMAS
from avbench.tasks import names as task_names

MODEL_CONFIGS = ("tiny", "paper")  # the configurations every built-in model declares (a plugin may add its own)
DEVICES = ("cpu", "cuda")  # and cuda:N
Completer = Callable[[str], list[str]]


def completer(values: Callable[[], Iterable[str]], comma_list: bool = False) -> Completer:
    """A shell-completion callback over ``values()`` (called only when the shell asks); ``comma_list``: the value is
    ``a,b,c`` and the last item is completed, without repeating those already given."""

    def complete(incomplete: str) -> list[str]:
        head, _, last = incomplete.rpartition(",") if comma_list else ("", "", incomplete)
        given = set(head.split(",")) if head else set()
        prefix = f"{head}," if head else ""
        return [prefix + v for v in values() if v.startswith(last) and v not in given]

    return complete


def choice(values: Sequence[str], metavar: str | None = None, comma_list: bool = False) -> dict[str, Any]:
    """``typer.Option``/``typer.Argument`` keywords for an option with the fixed choices ``values``."""
    return {"metavar": metavar or "|".join(values), "autocompletion": completer(lambda: values, comma_list)}


def lazy_choice(values: Callable[[], Iterable[str]], metavar: str, comma_list: bool = False) -> dict[str, Any]:
    """The same for choices read from a registry on demand (``values`` is called only when completing)."""
    return {"metavar": metavar, "autocompletion": completer(values, comma_list)}


def format_choice(kind: str, only: Sequence[str] | None = None) -> dict[str, Any]:
    """A ``--format`` option: the registered formats that render ``kind`` (optionally only those in ``only``)."""
    names = [n for n in formats.names(kind) if only is None or n in only]
    return choice(names)


# -- registries read on demand ---------------------------------------------------------------------------------------
def _models() -> list[str]:
    from avbench.models import names  # deferred: torch

    return ["all", *names()]


def _corruptions() -> list[str]:
    return ["all", "random", *corruption_names()]


def _config_files() -> list[str]:
    """Run configuration files in the working directory, beside the model configurations."""
    return [*MODEL_CONFIGS, *sorted(str(p) for p in Path(".").glob("*.toml")),
            *sorted(str(p) for p in Path(".").glob("runs/*/run.json"))]


# -- the options, one declaration each --------------------------------------------------------------------------------
LISTING = choice(list(LISTINGS))
SCHEMA = choice(list(SCHEMAS))
MODELS = lazy_choice(_models, "all|NAME[,NAME…]", comma_list=True)
MODEL = lazy_choice(lambda: _models()[1:], "NAME")
CORRUPTIONS = lazy_choice(_corruptions, "NAME[,NAME…]|all", comma_list=True)
MODALITY = choice(RANDOM_TARGETS)
TASK = lazy_choice(task_names, "emotion|attributes|…")
DATASET = lazy_choice(lambda: list(EMBEDDED), "NAME|STORE")
MODEL_CONFIG = choice(MODEL_CONFIGS)
RUN_CONFIG = lazy_choice(_config_files, "tiny|paper|FILE")
EXECUTOR = choice(EXECUTORS)
DEVICE = choice(DEVICES, metavar="cpu|cuda[:N]")
PRECISION = choice(PRECISIONS)
SPLIT = choice(EVALUATION_SPLITS)
