"""The names corpora and scores share, declared once: emotions, attributes and the embedded datasets' frame shapes.

The embedded ``synthetic`` corpus imitates CREMA-D, so both use :data:`CREMA_D_EMOTIONS`; every store, metric and
loader that speaks of arousal, valence and dominance uses :data:`ATTRIBUTES`. Models built without a dataset take
the embedded shapes (:data:`SYNTHETIC_SHAPES`), which is why this module stays free of numpy and torch.
"""
from __future__ import annotations

CREMA_D_EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
ATTRIBUTES: tuple[str, ...] = ("arousal", "valence", "dominance")
SYNTHETIC_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "tiny": {"audio": (5, 32), "video": (32,), "text": (32,)},
    "paper": {"audio": (25, 1024), "video": (1280,), "text": (768,)},
}
SPLITS: tuple[str, ...] = ("train", "dev", "test")
EVALUATION_SPLITS: tuple[str, ...] = ("test", "dev")  # what a run may evaluate ("dev" to choose a configuration)
