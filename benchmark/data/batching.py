"""Turning store clips plus keep-masks into padded tensors: the one input contract every model receives.

Order of operations follows the authors' code: features are z-normalised with train-split statistics, then lost
frames are set to 0 (the training mean), and the keep-masks travel with the batch so that mask-aware models can
attend to received frames only. Padding positions are never "received": their mask is False and ``lengths``
gives the true length of every sequence.

What a model receives (:class:`Batch`) holds its inputs, masks, lengths and timing, and nothing else: no labels, no
attributes, no clip ids. Targets are a separate object (:class:`Targets`) that only the harness holds: the training
loop hands them to the loss beside the batch (:class:`Labelled`), and evaluation never collates them at all. A
model cannot read what is not there, so labels reach no model by construction.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

import numpy as np
import torch

from avbench.data.store import FeatureStore

Masks = Mapping[str, np.ndarray]  # modality -> bool keep-mask of one clip (True = received)


@dataclass
class Batch:
    """A padded batch: everything a model may see.

    ``inputs[m]`` is (B, T, *shape) for modality m (audio: (B, T, layers, dim)); ``masks[m]`` is the (B, T) keep
    mask, True = frame received (False for lost frames and for padding); ``lengths[m]`` the unpadded lengths.
    ``word_times`` is (B, W, 2) seconds, aligned with ``inputs['text']`` when text is present; ``durations`` (B,)
    seconds; ``rates`` frames per second per modality. ``fuse`` gets the same batch without ``inputs`` (empty):
    past the frontend a model sees frames, never inputs.
    """

    inputs: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    lengths: dict[str, torch.Tensor]
    word_times: torch.Tensor
    durations: torch.Tensor
    rates: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.durations.shape[0])

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "Batch":
        """A copy with ``fn`` applied to every tensor (device moves, pinning)."""
        return replace(
            self,
            inputs={k: fn(v) for k, v in self.inputs.items()},
            masks={k: fn(v) for k, v in self.masks.items()},
            lengths={k: fn(v) for k, v in self.lengths.items()},
            word_times=fn(self.word_times),
            durations=fn(self.durations),
        )

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        return self.apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Batch":
        return self.apply(lambda t: t.pin_memory())

    def with_masks(self, masks: dict[str, torch.Tensor], zero_fill: bool = True) -> "Batch":
        """A copy whose keep-masks are ANDed with ``masks`` (and lost frames zeroed in the inputs)."""
        new_masks = {m: self.masks[m] & masks[m] if m in masks else self.masks[m] for m in self.masks}
        inputs = dict(self.inputs)
        if zero_fill:
            for m, keep in new_masks.items():
                if m not in inputs:
                    continue
                x = inputs[m]
                inputs[m] = x * keep.view(*keep.shape, *([1] * (x.dim() - 2))).to(x.dtype)
        return replace(self, inputs=inputs, masks=new_masks)

    def without_inputs(self) -> "Batch":
        """A copy without inputs: what ``fuse`` is given. Past the frontend a model works on frames; giving it no
        inputs there is what makes the folded path (frontend once per clean clip) and the honest path (frontend on
        the zero-filled inputs of every level) hand ``fuse`` exactly the same thing."""
        return replace(self, inputs={})

    def blinded(self) -> "Batch":
        """A copy whose keep-masks say only where each clip ends: what a mask-blind model is shown."""
        masks = {m: torch.arange(k.shape[1], device=k.device)[None, :] < self.lengths[m][:, None].to(k.device)
                 for m, k in self.masks.items()}
        return replace(self, masks=masks)


@dataclass
class Targets:
    """What a batch is scored against: (B, C) vote shares and (B, 3) attributes z-normalised with train statistics.
    Held by the harness and handed to a loss, never to a model's forward pass."""

    labels: torch.Tensor
    attributes: torch.Tensor

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "Targets":
        return Targets(fn(self.labels), fn(self.attributes))

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Targets":
        return self.apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Targets":
        return self.apply(lambda t: t.pin_memory())


@dataclass
class Labelled:
    """A training (or selection) batch and its targets, side by side: the model gets ``batch``, the loss both, and
    the harness alone the store rows the batch holds (``rows``: a training protocol masks them by their clip)."""

    batch: Batch
    targets: Targets
    rows: tuple[int, ...] = ()

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Labelled":
        return Labelled(self.batch.to(device, non_blocking), self.targets.to(device, non_blocking), self.rows)

    def pin_memory(self) -> "Labelled":
        return Labelled(self.batch.pin_memory(), self.targets.pin_memory(), self.rows)


def _pad(arrays: Sequence[np.ndarray], tail: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    out = np.zeros((len(arrays), max(1, int(lengths.max(initial=0))), *tail), dtype=np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out, lengths


class Collator:
    """Builds :class:`Batch` objects from a store; holds the normalisation statistics once."""

    def __init__(self, store: FeatureStore, modalities: Sequence[str] | None = None) -> None:
        self.store = store
        self.modalities = [m for m in (modalities or store.modalities) if m in store.modalities]
        self.shapes = {m: tuple(store.modalities[m]["shape"]) for m in self.modalities}
        self._mean: dict[str, np.ndarray] = {}
        self._std: dict[str, np.ndarray] = {}
        for m in self.modalities:
            stats = store.norm.get(m)
            if stats:
                self._mean[m] = np.asarray(stats["mean"], np.float32).reshape(self.shapes[m])
                self._std[m] = np.asarray(stats["std"], np.float32).reshape(self.shapes[m])
        attr = store.norm.get("attributes")
        self.attr_mean = np.asarray(attr["mean"], np.float32) if attr else np.zeros(3, np.float32)
        self.attr_std = np.asarray(attr["std"], np.float32) if attr else np.ones(3, np.float32)

    def normalised(self, modality: str, index: int) -> np.ndarray:
        x = np.asarray(self.store.frames(modality, index), dtype=np.float32)
        if modality in self._mean:
            x = (x - self._mean[modality]) / self._std[modality]
        return x

    def __call__(self, indices: Sequence[int], masks: Sequence[Masks] | None = None) -> Batch:
        """Collate clips ``indices``; ``masks[i]`` (optional) are the corruption keep-masks of clip i. No targets:
        :meth:`labelled` adds them beside the batch."""
        inputs, keep, lengths = {}, {}, {}
        for m in self.modalities:
            arrays = [self.normalised(m, int(i)) for i in indices]
            padded, lens = _pad(arrays, self.shapes[m])
            mask = np.zeros(padded.shape[:2], dtype=bool)
            for b, i in enumerate(indices):
                n = int(lens[b])
                clip_keep = self.store.present(m, int(i)).copy()
                if masks is not None and m in masks[b]:
                    clip_keep &= np.asarray(masks[b][m], dtype=bool)[:n]
                mask[b, :n] = clip_keep
            padded *= mask.reshape(*mask.shape, *([1] * (padded.ndim - 2)))
            inputs[m] = torch.from_numpy(padded)
            keep[m] = torch.from_numpy(mask)
            lengths[m] = torch.from_numpy(lens)
        word_times, _ = _pad([self.store.word_times(int(i)) for i in indices], (2,))
        return Batch(
            inputs=inputs,
            masks=keep,
            lengths=lengths,
            word_times=torch.from_numpy(word_times),
            durations=torch.tensor([float(self.store.clips["duration"].iat[int(i)]) for i in indices]),
            rates=self.store.rates,
        )

    def targets(self, indices: Sequence[int]) -> Targets:
        """The targets of clips ``indices``: vote shares and train-normalised attributes."""
        attributes = (np.asarray(self.store.attributes[list(indices)], np.float32) - self.attr_mean) / self.attr_std
        return Targets(labels=torch.from_numpy(np.asarray(self.store.labels[list(indices)], np.float32)),
                       attributes=torch.from_numpy(np.nan_to_num(attributes)))

    def labelled(self, indices: Sequence[int], masks: Sequence[Masks] | None = None) -> Labelled:
        """A batch and its targets, for training."""
        return Labelled(self(indices, masks), self.targets(indices), tuple(int(i) for i in indices))

    def denormalise_attributes(self, values: np.ndarray) -> np.ndarray:
        return values * self.attr_std + self.attr_mean


_DONE = object()


class Movable(Protocol):
    """What :func:`prefetch` delivers: a :class:`Batch` or a :class:`Labelled` batch."""

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Movable": ...

    def pin_memory(self) -> "Movable": ...


Item = TypeVar("Item", bound=Movable)


def prefetch(chunks: Iterable[Sequence[int]], collate: Callable[[Sequence[int]], Item], device: torch.device | str,
             depth: int = 2) -> Iterator[Item]:
    """Batches of ``chunks`` collated by a background thread up to ``depth`` ahead, delivered on ``device``.

    Reading the memory-mapped store and padding happen while the model computes on the previous batch. On CUDA the
    batches are pinned in the background and copied without blocking; on the CPU they are handed over as built, so
    the numbers are exactly those of collating in the loop (``depth=0`` does that, for comparison).
    """
    cuda = torch.device(device).type == "cuda"

    def build(chunk: Sequence[int]) -> Item:
        batch = collate(chunk)
        return batch.pin_memory() if cuda else batch

    if depth <= 0:
        for chunk in chunks:
            yield build(chunk).to(device, non_blocking=cuda)
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for chunk in chunks:
                if not offer(build(chunk)):
                    return
            offer(_DONE)
        except BaseException as exc:  # re-raised in the consumer, where the caller can see it
            offer(exc)

    worker = threading.Thread(target=work, name="avbench-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item.to(device, non_blocking=cuda)
    finally:
        stop.set()
        worker.join()
