"""Finding and decoding the media files of a corpus checkout.

Everything is decoded with PyAV, so WAV, MP3, FLV (CREMA-D) and AVI (MSP-IMPROV) go through one code path:
audio comes out as 16 kHz mono float32, video as RGB frames sampled on a fixed clock so every clip of a store
shares one frame rate. Files checked out without ``git lfs pull`` are small text pointers; they are recognised
and reported instead of failing deep inside a decoder.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000
LFS_MAGIC = b"version https://git-lfs"


class ClipError(Exception):
    """A problem with one clip (unreadable file, no audio stream, ...): reported per clip, never fatal."""


def index_media(root: Path, suffixes: Iterable[str]) -> dict[str, Path]:
    """Map file stem → path for every file under ``root`` with one of ``suffixes`` (first path wins)."""
    wanted = {s.lower() for s in suffixes}
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in wanted and path.is_file():
            found.setdefault(path.stem, path)
    return found


def lfs_pointer_size(path: Path) -> int | None:
    """Size of the real file when ``path`` is a Git LFS pointer, else None."""
    with open(path, "rb") as fh:
        head = fh.read(200)
    if not head.startswith(LFS_MAGIC):
        return None
    for line in head.decode("ascii", "replace").splitlines():
        if line.startswith("size "):
            return int(line.split()[1])
    return None


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise ClipError(f"{path}: file not found")
    if lfs_pointer_size(path) is not None:
        raise ClipError(f"{path} is a Git LFS pointer, not media: run `git lfs pull` in the corpus checkout")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as exc:
        raise ClipError(f"{path}: cannot open ({exc})") from None


def load_audio(path: Path) -> np.ndarray:
    """The first audio stream of ``path`` as 16 kHz mono float32 (resampled, channels averaged)."""
    with _open(path) as container:
        if not container.streams.audio:
            raise ClipError(f"{path}: no audio stream")
        # planar float at 16 kHz with the source's channels; the channel mean is the down-mix (ffmpeg's own
        # stereo-to-mono matrix would scale each channel by 1/sqrt(2) and can exceed [-1, 1])
        resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                chunks.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(None))
        except av.error.FFmpegError as exc:
            raise ClipError(f"{path}: audio decoding failed ({exc})") from None
    if not chunks:
        raise ClipError(f"{path}: audio stream is empty")
    return np.concatenate(chunks).astype(np.float32)


def video_frames(path: Path, fps: float) -> Iterator[np.ndarray]:
    """RGB frames (H, W, 3) uint8 at times k/fps, k = 0, 1, ..., each the decoded frame nearest in time.

    Times are measured from the first decoded frame. The clip lasts until one source-frame period after its
    last frame and yields round(duration × fps) frames, so a 30 fps source read at 30 fps gives exactly its own
    frames. Frames stream through: memory holds two decoded frames, not the clip.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise ClipError(f"{path}: no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        period = 1.0 / float(rate) if rate else 1.0 / fps
        k = 0
        start: float | None = None
        prev: tuple[float, np.ndarray] | None = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time if frame.time is not None else index * period)
                start = t if start is None else start
                t -= start
                image = frame.to_ndarray(format="rgb24")
                while k / fps <= t:
                    target = k / fps
                    yield prev[1] if prev is not None and target - prev[0] <= t - target else image
                    k += 1
                prev = (t, image)
        except av.error.FFmpegError as exc:
            raise ClipError(f"{path}: video decoding failed ({exc})") from None
        if prev is None:
            raise ClipError(f"{path}: video stream has no frames")
        end = prev[0] + period
        while (k + 0.5) / fps <= end:  # n = round(duration * fps), robust to millisecond-rounded timestamps
            yield prev[1]
            k += 1
