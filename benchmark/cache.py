"""Where generated datasets and trained checkpoints live: ``$AVBENCH_CACHE`` or ``~/.cache/avbench``."""
from __future__ import annotations

import os
from pathlib import Path

from avbench.atomic import sweep_temporaries
from avbench.errors import UserError

_SWEPT: set[Path] = set()


def cache_dir() -> Path:
    """The cache directory, created on first use. The first time a process touches a cache it removes the
    temporaries that writers no longer running left there (a killed training's half-written weights, a killed
    generation's partial store), so nothing of an interrupted command outlives the next one."""
    root = Path(os.environ.get("AVBENCH_CACHE", Path.home() / ".cache" / "avbench")).expanduser()
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
