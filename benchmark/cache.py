"""Where generated datasets and trained checkpoints live: ``$AVBENCH_CACHE`` when set (``avbench --cache DIR`` sets
it), else the platform's user cache directory from :mod:`platformdirs` — ``$XDG_CACHE_HOME/avbench`` on Linux and
the BSDs (``~/.cache/avbench`` when that is unset), ``~/Library/Caches/avbench`` on macOS and
``%LOCALAPPDATA%\\avbench\\Cache`` on Windows — so nothing assumes a POSIX home layout."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from avbench.atomic import sweep_temporaries
from avbench.errors import UserError

ENV = "AVBENCH_CACHE"
_SWEPT: set[Path] = set()


def default_cache_dir() -> Path:
    """The platform's cache directory for avbench (what ``AVBENCH_CACHE`` overrides)."""
    return Path(platformdirs.user_cache_dir("avbench", appauthor=False))


def cache_dir() -> Path:
    """The cache directory, created on first use. The first time a process touches a cache it removes the
    temporaries that writers no longer running left there (a killed training's half-written weights, a killed
    generation's partial store), so nothing of an interrupted command outlives the next one."""
    root = Path(os.environ.get(ENV) or default_cache_dir()).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        if not root.is_dir():
            raise UserError(f"avbench cache {root} is not a usable directory (it is a file)") from None
    except OSError as exc:
        if not root.is_dir():
            raise UserError(f"avbench cache {root} is not a usable directory ({exc.strerror or exc})") from None
    if root not in _SWEPT:
        _SWEPT.add(root)
        sweep_temporaries(root)
    return root
