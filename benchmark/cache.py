"""Where generated datasets and trained checkpoints live: ``$AVBENCH_CACHE`` or ``~/.cache/avbench``."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    root = Path(os.environ.get("AVBENCH_CACHE", Path.home() / ".cache" / "avbench")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root
