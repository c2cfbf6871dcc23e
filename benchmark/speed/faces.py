"""Per-clip time of the video features (MTCNN + alignment + MobileNetV2), old and new settings side by side.

Run ``avbench speed faces``. One CREMA-D-sized clip (480 x 360 frames at 30 fps, the corpus's mean 2.5 s) showing a
real face (the portrait of Grace Hopper that matplotlib ships as sample data, so nothing beyond avbench's own
dependencies is needed) goes through :class:`~avbench.corpora.faces.FaceEncoder` three
ways in the same process: one frame per detector call with facenet-pytorch's default 20 px smallest face (how
the issue measured it), batched frames with that default, and batched frames with the 40 px smallest face used
now. MobileNetV2 runs with random weights: its speed does not depend on their values. The projection to the whole
corpus is clips x the measured per-clip time, on the threads this process has.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from avbench.output import terminal

CREMA_D_CLIPS = 7438  # after the four broken clips
CREMA_D_SECONDS = 2.54  # mean clip duration (RAVER paper; avbench datasets info on the real tables)
FRAME_SIZE = (480, 360)  # CREMA-D's VideoFlash resolution


def _frames(n: int) -> np.ndarray:
    from matplotlib import cbook  # deferred: matplotlib
    from PIL import Image  # deferred: PIL

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:  # 512 x 600
        photo = image.convert("RGB").crop((0, 40, 512, 424))  # 4:3 like the corpus's frames, the face inside
    return np.stack([np.asarray(photo.resize(FRAME_SIZE))] * n)


def measure(fps: float = 30.0, seconds: float = CREMA_D_SECONDS, repeats: int = 2) -> list[tuple[str, float, int]]:
    """(setting, best seconds per clip, frames with a face found) for each setting."""
    from safetensors.torch import save_file  # deferred: safetensors
    from torchvision.models import mobilenet_v2  # deferred: torchvision

    from avbench.corpora.faces import MIN_FACE, FaceEncoder  # deferred: PIL, pandas

    frames = _frames(round(fps * seconds))
    settings = [("one frame per call, 20 px smallest face (before)", 1, 20),
                ("32 frames per call, 20 px smallest face", 32, 20),
                (f"32 frames per call, {MIN_FACE} px smallest face (now)", 32, MIN_FACE)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "mobilenet_v2.safetensors"
        save_file({k: v.contiguous() for k, v in mobilenet_v2(weights=None).state_dict().items()}, weights)
        for label, batch, min_face in settings:
            encoder = FaceEncoder(weights, torch.device("cpu"), batch_size=batch, min_face=min_face)
            best, found = float("inf"), 0
            for _ in range(repeats):
                start = time.perf_counter()
                _, present = encoder(iter(frames))
                best = min(best, time.perf_counter() - start)
                found = int(present.sum())
            results.append((label, best, found))
    return results


def report(results: list[tuple[str, float, int]], frames: int, console: Console | None = None) -> None:
    console = console or terminal.console()
    table = terminal.readable_table("setting", "s per clip", "ms per frame", "faces found", "CREMA-D video (h)",
                                    right=("s per clip", "ms per frame", "faces found", "CREMA-D video (h)"),
                                    title=f"video features per {frames}-frame clip on {torch.get_num_threads()} "
                                          "CPU thread(s)")
    for label, seconds, found in results:
        table.add_row(label, f"{seconds:.2f}", f"{1000 * seconds / frames:.0f}", f"{found}/{frames}",
                      f"{seconds * CREMA_D_CLIPS / 3600:.1f}")
    console.print(table)
    console.print(f"speed-up of the current setting over the first: {results[0][1] / results[-1][1]:.1f}x")
