"""The contract every model in the registry follows.

A model receives a :class:`~avbench.data.batching.Batch` — inputs, keep-masks, lengths and timing, nothing else (no
labels, no clip ids) — and returns logits over the emotions (task ``emotion``) or three z-normalised values (task
``attributes``: arousal, valence, dominance). ``forward`` is split in two, and the split is enforced, not promised:

* :meth:`EmotionModel.frontend` — a per-frame transform (learnable layer sum, k=1 projections). The harness calls
  it on one frame at a time: each modality's frames are folded into rows and the frontend is mapped over them with
  ``torch.func.vmap`` (:func:`frontend_frames`), so its code sees one frame's shape, no batch or time axis, and
  cannot mix one frame with another whatever it does. This holds in training and evaluation alike, so evaluation
  may compute it once per clean clip and reuse it at every corruption level (the *folded* path) and get exactly
  what the frontend of the zero-filled inputs gives (the *honest* path).
* :meth:`EmotionModel.fuse` — everything after it, on the frames with every lost frame replaced by the frontend of
  a zero frame (:func:`replace_lost`) and the batch without its inputs (:meth:`Batch.without_inputs`): past the
  frontend a model sees frames, never inputs, so both paths hand ``fuse`` the same thing.

Mask access is declared, not inferred: a lost frame always arrives as a zero(-filled) frame, and only a model with
``sees_masks = True`` is also told *which* frames were lost. For the others the harness (:func:`visible`) replaces
the keep-masks by masks that mark only batch padding, so the declaration is what happens. "Not told" is not "cannot
know": a zero frame (or the frontend of one) reveals the loss to a model that looks for it, as in both papers.

Models must give finite outputs for any mask, including a modality that is 100 % missing.
"""
from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from torch import nn

from avbench.data.batching import Batch, Targets
from avbench.errors import UserError
from avbench.tasks import get as get_task

Frames = dict[str, torch.Tensor]


def missing_modalities(needed: Sequence[str], available: Collection[str]) -> list[str]:
    """The modalities a model needs that a dataset (or feature dims) does not have: the one model–modality check,
    behind the runner's model selection, training and every model's constructor."""
    return [m for m in needed if m not in available]


def require_modalities(name: str, needed: Sequence[str], available: Collection[str]) -> None:
    """Refuse to build model ``name`` on inputs that lack one of its modalities (one clear line)."""
    missing = missing_modalities(needed, available)
    if missing:
        raise UserError(f"model {name!r} needs modality {', '.join(missing)}; the dataset has "
                        f"{', '.join(available) or 'none'}")


@dataclass(frozen=True)
class Recipe:
    """A training recipe as its source paper or public code states it (the tiny configs may shorten it)."""

    optimizer: str = "adamw"  # adamw | adam | sgd
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 20
    loss: str = "ce"  # ce (soft-label CE) | cbce (class-balanced CE, Cui et al.) | ccc (mean of 1-CCC)
    # β of the class-balanced weights; None = (N−1)/N with N the training clips, as Chou et al. (RAVER's [62]) and
    # EMO-SUPERB set it (Cui et al.'s "effective number" with the whole training set as the sample volume)
    cb_beta: float | None = None
    modality_dropout: tuple[float, float] = (0.0, 0.0)  # P(zero audio), P(zero video) per batch
    grad_clip: float | None = None
    source: str = ""  # where the recipe comes from

    def updated(self, **changes: Any) -> "Recipe":
        return replace(self, **changes)


@dataclass(frozen=True)
class FeatureDims:
    """Shapes of one frame of each modality in the dataset (audio: (layers, dim); video/text: (dim,))."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def dim(self, modality: str) -> int:
        return int(self.shapes[modality][-1])

    def layers(self, modality: str = "audio") -> int:
        shape = self.shapes[modality]
        return int(shape[0]) if len(shape) == 2 else 1


class EmotionModel(nn.Module):
    """Base class; subclasses set the class attributes and implement :meth:`fuse` (and maybe :meth:`frontend`)."""

    name: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ("emotion",)
    paper: ClassVar[str] = ""
    configs: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}, "paper": {}}
    recipes: ClassVar[dict[str, Recipe]] = {"tiny": Recipe(), "paper": Recipe()}
    # True: ``fuse`` receives the keep-masks (which frames were lost); False: only zero-filled frames and lengths
    sees_masks: ClassVar[bool] = False
    # False: evaluation recomputes the frontend on the zero-filled inputs of every level (the honest path) instead
    # of once per clean clip; the frontend is called one frame at a time either way, so both give the same outputs
    foldable: ClassVar[bool] = True
    # whether the architecture's own loss-related training regulariser (see :meth:`training_regulariser`) is on; a
    # training protocol (:mod:`avbench.protocols`) switches it off on the instance it trains
    regularise: bool = True

    def __init__(self, dims: FeatureDims, n_outputs: int, task: str = "emotion") -> None:
        super().__init__()
        self.dims = dims
        self.n_outputs = n_outputs
        self.task = task

    # -- the two halves of forward ------------------------------------------------------------------------------
    def frontend(self, inputs: dict[str, torch.Tensor]) -> Frames:
        """Per-frame transform; identity by default. ``inputs`` holds ONE frame of one modality (audio: (layers,
        dim); video, text: (dim,)) — the harness maps it over every frame (:func:`frontend_frames`) — and the result
        is that frame's features for the same modality key."""
        return dict(inputs)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        """Everything after the frontend: ``frames[m]`` is (B, T, *features), lost frames already the frontend of a
        zero frame; ``batch`` has no inputs. Returns (B, n_outputs)."""
        raise NotImplementedError

    def frames(self, batch: Batch, modalities: Sequence[str] | None = None) -> Frames:
        """The frontend of every frame of ``batch`` (of ``modalities``, default all), each lost or padded frame
        replaced by the frontend of a zero frame: what ``fuse`` is given."""
        inputs = batch.inputs if modalities is None else {m: batch.inputs[m] for m in modalities}
        frames, zero = frontend_frames(self, inputs)
        return replace_lost(frames, batch.masks, zero)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.fuse(self.frames(batch), fuse_view(self, batch))

    # -- training hooks -------------------------------------------------------------------------------------------
    def loss(self, batch: Batch, targets: Targets, criterion: "nn.Module") -> torch.Tensor:
        """Training loss for one batch; ``criterion`` maps (outputs, targets) to a scalar. Override for aux losses.
        The targets come beside the batch, never inside it: a model's forward pass cannot read them."""
        return criterion(self(batch), targets)

    def train_step(self, batch: Batch, targets: Targets, criterion: "nn.Module", optimizer: torch.optim.Optimizer,
                   grad_clip: float | None = None) -> float:
        """One optimisation step; models with several updates per batch (VAVL) override this."""
        return self.update(self.loss(batch, targets, criterion), optimizer, grad_clip)

    def update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, grad_clip: float | None = None) -> float:
        """One update of ``optimizer`` from ``loss`` (gradients cleared first, clipped to ``grad_clip`` when set);
        returns the loss. Clearing after the forward pass is the same as before it: a forward pass leaves the
        gradients alone."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(self.parameters(), grad_clip)
        optimizer.step()
        return float(loss.detach())

    def predict(self, batch: Batch) -> torch.Tensor:
        """The task's predictions: probabilities (emotion: softmax over emotions) or z-normalised attributes."""
        return get_task(self.task).activate(self(batch))

    # -- description ----------------------------------------------------------------------------------------------
    @classmethod
    def training_regulariser(cls, settings: dict[str, Any]) -> str:
        """The loss-related regulariser the architecture applies to itself while training with ``settings`` (what
        it is, in words), or '' when it has none. A training protocol can switch it off (``regularise = False``)
        to separate what the architecture does from what its training does; Align-MultiScaleW's random chunk
        alignments are one."""
        return ""

    @classmethod
    def config_for(cls, config: str, **overrides: Any) -> dict[str, Any]:
        base = dict(cls.configs[config])
        base.update(overrides)
        return base

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class FrontendError(UserError):
    """A frontend that cannot run on one frame at a time (it needs a batch or time axis)."""


def _per_row(model: EmotionModel, modality: str, rows: torch.Tensor) -> torch.Tensor | None:
    """``model.frontend`` mapped over ``rows`` (N, *frame shape) with ``torch.func.vmap``: each call sees one frame,
    so no output row can depend on another row. ``None`` when the frontend returns nothing for ``modality``."""
    def one(frame: torch.Tensor) -> dict[str, torch.Tensor]:
        out = model.frontend({modality: frame})
        return {modality: out[modality]} if modality in out else {}

    try:  # random draws (dropout) differ per frame in training and are refused in evaluation
        out = torch.func.vmap(one, randomness="different" if model.training else "error")(rows)
    except (RuntimeError, IndexError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FrontendError(f"model {type(model).name or type(model).__name__!r}: its frontend failed on one "
                            f"{modality} frame of shape {tuple(rows.shape[1:])} ({first}); a frontend is called "
                            "one frame at a time, without batch or time axis: layers that need neighbouring frames "
                            "belong in fuse") from None
    return out.get(modality)


def frontend_frames(model: EmotionModel, inputs: dict[str, torch.Tensor]) -> tuple[Frames, Frames]:
    """(frames, zero): ``model.frontend`` of every frame of ``inputs`` ((B, T, *shape) → (B, T, *features)), and of
    one zero frame per modality ((*features)).

    Each modality's (B, T) frames are folded into B·T rows and the frontend is vmapped over them, one modality at a
    time: it sees one frame, never its neighbours, another clip or another modality, so a kept frame's features
    cannot depend on a lost one whatever the frontend's code. That is what lets evaluation run it once per clean
    clip and reuse it at every level; it is the same call in training."""
    frames: Frames = {}
    zero: Frames = {}
    for m, x in inputs.items():
        rows = _per_row(model, m, x.reshape(-1, *x.shape[2:]))
        if rows is None:
            continue
        frames[m] = rows.reshape(*x.shape[:2], *rows.shape[1:])
        zero_row = _per_row(model, m, x.new_zeros((1, *x.shape[2:])))
        zero[m] = zero_row[0] if zero_row is not None else torch.zeros_like(rows[0])
    return frames, zero


ESCAPED = "escaped from inside a function being vmapped"  # functorch's words for a kept frame used later


@contextmanager
def kept_frames_refused(model: EmotionModel) -> Iterator[None]:
    """Turns torch's error for a frame a frontend kept (on itself, say) and read after its call into one line: a
    frontend sees one frame at a time, and what it keeps of it is unusable outside that call by construction."""
    try:
        yield
    except RuntimeError as exc:
        if ESCAPED not in str(exc):
            raise
        raise FrontendError(f"model {type(model).name or type(model).__name__!r} kept a frame its frontend was given "
                            "and read it after the call (a cache across calls); a frontend sees one frame at a time "
                            "and may keep nothing of it: refused") from None


def replace_lost(frames: Frames, masks: dict[str, torch.Tensor], zero: Frames) -> Frames:
    """``frames`` with every frame whose keep-mask is False (lost or padding) replaced by ``zero[m]``, the frontend
    of a zero frame: exactly what the frontend of the zero-filled input gives."""
    out = dict(frames)
    for m, keep in masks.items():
        if m not in frames or m not in zero:
            continue
        x = frames[m]
        k = keep.view(*keep.shape, *([1] * (x.dim() - 2)))
        out[m] = torch.where(k, x, zero[m].to(x.dtype))
    return out


def visible(model: EmotionModel, batch: Batch) -> Batch:
    """``batch`` as ``model`` may see it: unchanged for a mask-aware model; for a mask-blind one the keep-masks only
    mark batch padding (lost frames are already zero in the inputs, or replaced by the frontend of a zero frame
    before ``fuse``)."""
    return batch if type(model).sees_masks else batch.blinded()


def fuse_view(model: EmotionModel, batch: Batch) -> Batch:
    """The batch ``fuse`` is given: as ``model`` may see it (:func:`visible`), without inputs."""
    return visible(model, batch).without_inputs()
