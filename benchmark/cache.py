"""Where generated datasets and trained checkpoints live: ``$AVBENCH_CACHE`` when set (``avbench --cache DIR`` sets
it), else the platform's user cache directory from :mod:`platformdirs` — ``$XDG_CACHE_HOME/avbench`` on Linux and
the BSDs (``~/.cache/avbench`` when that is unset), ``~/Library/Caches/avbench`` on macOS and
``%LOCALAPPDATA%\\avbench\\Cache`` on Windows — so nothing assumes a POSIX home layout."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from avbench.errors import UserError

ENV = "AVBENCH_CACHE"


def default_cache_dir() -> Path:
    """The platform's cache directory for avbench (what ``AVBENCH_CACHE`` overrides)."""
    return Path(platformdirs.user_cache_dir("avbench", appauthor=False))


def cache_dir() -> Path:
    root = Path(os.environ.get(ENV) or default_cache_dir()).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"avbench cache {root} is not a usable directory ({exc.strerror or exc})") from None
    return root
