"""The contract every model in the registry follows.

A model receives a :class:`~avbench.data.batching.Batch` and returns logits over the emotions (task ``emotion``) or
three z-normalised values (task ``attributes``: arousal, valence, dominance). Evaluation under many corruption
levels is made cheap by splitting ``forward`` in two:

* :meth:`EmotionModel.frontend` — a per-frame transform that does not look at masks (learnable layer sum,
  k=1 projections). The runner computes it once per clip and reuses it for every level.
* :meth:`EmotionModel.fuse` — everything after it. Masked frames are replaced by the frontend of a zero frame,
  exactly what zero-filling the input would have produced.

The split is a promise the harness checks rather than believes: before a model's first evaluation
:mod:`avbench.execution.contract` compares the folded path with the whole model on zero-filled inputs, and evaluates a model
whose frontend mixes frames (a temporal convolution, say) by the honest path instead. A model that knows it is not
per-frame sets ``foldable = False`` and skips the probe.

Mask access is declared, not inferred: a lost frame always arrives as a zero(-filled) frame, and only a model with
``sees_masks = True`` is also told *which* frames were lost. For the others the harness (:func:`visible`) replaces
the keep-masks by masks that mark only batch padding, so the declaration is what happens.

Models must give finite outputs for any mask, including a modality that is 100 % missing.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from torch import nn

from avbench.data.batching import Batch
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
    # False: the frontend is not per-frame, so the harness never folds it (always the honest path, no probe)
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
        """Mask-independent per-frame transform; identity by default. Must act on each frame on its own."""
        return dict(inputs)

    def fuse(self, frames: Frames, batch: Batch) -> torch.Tensor:
        """Everything after the frontend: returns (B, n_outputs)."""
        raise NotImplementedError

    def apply_masks(self, frames: Frames, batch: Batch) -> Frames:
        """Replace lost frames by the frontend of a zero frame, as if the input had been zero-filled."""
        zero_inputs = {m: torch.zeros((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
                       for m, x in batch.inputs.items()}
        zero_frames = self.frontend(zero_inputs)
        out = dict(frames)
        for m, keep in batch.masks.items():
            if m not in frames or m not in zero_frames:
                continue
            x = frames[m]
            k = keep.view(*keep.shape, *([1] * (x.dim() - 2)))
            out[m] = torch.where(k, x, zero_frames[m].to(x.dtype))
        return out

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.fuse(self.apply_masks(self.frontend(batch.inputs), batch), visible(self, batch))

    # -- training hooks -------------------------------------------------------------------------------------------
    def loss(self, batch: Batch, criterion: "nn.Module") -> torch.Tensor:
        """Training loss for one batch; ``criterion`` maps (outputs, batch) to a scalar. Override for aux losses."""
        return criterion(self(batch), batch)

    def train_step(self, batch: Batch, criterion: "nn.Module", optimizer: torch.optim.Optimizer,
                   grad_clip: float | None = None) -> float:
        """One optimisation step; models with several updates per batch (VAVL) override this."""
        return self.update(self.loss(batch, criterion), optimizer, grad_clip)

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


def visible(model: EmotionModel, batch: Batch) -> Batch:
    """``batch`` as ``model`` may see it: unchanged for a mask-aware model; for a mask-blind one the keep-masks only
    mark batch padding (lost frames are already zero in the inputs, or replaced by :meth:`~EmotionModel.apply_masks`
    before ``fuse``)."""
    return batch if type(model).sees_masks else batch.blinded()
