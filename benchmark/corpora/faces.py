"""Per-frame face features: MTCNN detection, eye-based alignment, MobileNetV2 pooled features (RAVER's video).

For every frame the largest face MTCNN finds (with probability ≥ ``min_probability``) is rotated so the eyes lie
on a horizontal line, cropped to a square around the detection box and resized to 224 × 224. MobileNetV2's
convolutional trunk runs on the crops and its global average pool gives 1280 numbers per frame. A frame without
a face keeps a zero vector and ``present = False``; it is never dropped, so frame k stays at time k / fps.

The MTCNN weights ship inside facenet-pytorch. The MobileNetV2 weights are the user's AffectNet fine-tuned
checkpoint, read with :func:`~avbench.corpora.weights.load_state_dict`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avbench.corpora.weights import content_digest, load_state_dict, strip_prefix
from avbench.errors import UserError

CROP = 224
MARGIN = 0.2  # extra context around the detection box, as a fraction of its longer side
# Smallest face searched for, in pixels. MTCNN's image pyramid starts at 12 / MIN_FACE of the frame, so 40 px
# (facenet-pytorch's default is 20) drops the two most expensive pyramid levels: about 2.5x less detection time
# on CREMA-D-sized frames (480 x 360, faces over 100 px) while every face a 224 x 224 crop is useful for is kept.
MIN_FACE = 40
FEATURE_DIM = 1280
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def aligned_crop(image: np.ndarray, box: np.ndarray, eyes: np.ndarray, size: int = CROP) -> np.ndarray:
    """Square crop centred on ``box``, rotated so that ``eyes`` ((left x, y), (right x, y)) are level."""
    (lx, ly), (rx, ry) = eyes
    angle = np.arctan2(ry - ly, rx - lx)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + MARGIN)
    scale = side / size
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    half = size / 2
    # PIL maps every output pixel (u, v) to the input point (a u + b v + c, d u + e v + f)
    coefficients = (cos, -sin, cx - cos * half + sin * half, sin, cos, cy - sin * half - cos * half)
    crop = Image.fromarray(image).transform((size, size), Image.Transform.AFFINE, coefficients,
                                            resample=Image.Resampling.BILINEAR)
    return np.asarray(crop)


def _mobilenet_trunk(weights: Path) -> torch.nn.Module:
    from torchvision.models import mobilenet_v2  # deferred: torchvision

    state = strip_prefix(load_state_dict(weights), "features.")
    if not state:
        raise UserError(f"--video-weights {weights}: no 'features.*' tensors (expected a torchvision MobileNetV2)")
    trunk = mobilenet_v2(weights=None).features
    tensors = {k.removeprefix("features."): v for k, v in state.items()}
    try:
        result = trunk.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc))
        raise UserError(f"--video-weights {weights}: does not fit torchvision's MobileNetV2 ({detail})") from None
    if result.missing_keys:
        raise UserError(f"--video-weights {weights}: {len(result.missing_keys)} MobileNetV2 tensor(s) missing, "
                        f"e.g. features.{result.missing_keys[0]}")
    return trunk


class FaceEncoder:
    """Frames in, ``(features (N, 1280) float32, present (N,) bool)`` out, ``batch_size`` frames at a time."""

    shape = (FEATURE_DIM,)

    def __init__(self, weights: Path, device: torch.device, batch_size: int = 32, min_probability: float = 0.9,
                 min_face: int = MIN_FACE):
        from facenet_pytorch import MTCNN  # deferred: facenet_pytorch

        self.weights, self.device, self.batch_size = Path(weights), device, batch_size
        self.min_probability = min_probability
        # one detector call per batch of frames: MTCNN runs each pyramid level on the whole batch at once
        self.detector = MTCNN(select_largest=True, device=device, min_face_size=min_face)
        self.trunk = _mobilenet_trunk(self.weights).to(device).eval()
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        self.digest = content_digest({"detector": self.detector, "trunk": self.trunk},
                                     {"crop": CROP, "margin": MARGIN, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                                      "min_probability": min_probability, "min_face": min_face})

    def crops(self, frames: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Aligned crops of the frames that show a face, and the mask of those frames."""
        boxes, probs, points = self.detector.detect(frames, landmarks=True)
        crops, present = [], np.zeros(len(frames), bool)
        for i, frame in enumerate(frames):
            if boxes[i] is None:
                continue
            box = np.asarray(boxes[i], np.float64)[0]
            if float(np.asarray(probs[i], np.float64)[0]) < self.min_probability:
                continue
            crops.append(aligned_crop(frame, box, np.asarray(points[i], np.float64)[0][:2]))
            present[i] = True
        return crops, present

    @torch.no_grad()
    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        features = self.trunk((x - self.mean) / self.std)
        return features.mean(dim=(2, 3)).float().cpu().numpy()

    def __call__(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        features, present = [], []
        for batch in _batches(frames, self.batch_size):
            crops, mask = self.crops(np.stack(batch))
            block = np.zeros((len(batch), FEATURE_DIM), np.float32)
            if crops:
                block[mask] = self.embed(crops)
            features.append(block)
            present.append(mask)
        if not features:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros(0, bool)
        return np.concatenate(features), np.concatenate(present)


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
