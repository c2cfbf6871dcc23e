"""Where generated datasets and trained checkpoints live: ``$AVBENCH_CACHE`` or ``~/.cache/avbench``."""
from __future__ import annotations

import os
from pathlib import Path

from avbench.errors import UserError


def cache_dir() -> Path:
    root = Path(os.environ.get("AVBENCH_CACHE", Path.home() / ".cache" / "avbench")).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"avbench cache {root} is not a usable directory ({exc.strerror or exc})") from None
    return root
