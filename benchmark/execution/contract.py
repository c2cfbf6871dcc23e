"""The evaluation contract: two paths that agree by construction, and a spot check in the evaluation's own context.

Evaluation folds every model by default: the frontend runs once per batch of clean clips and each corruption level
only replaces the lost frames by the frontend of a zero frame before ``fuse`` (:func:`level_outputs`). The honest
path runs the frontend on the zero-filled inputs of every level instead. The two agree by construction, not by a
check: the frontend is called on one frame at a time (:func:`avbench.models.base.frontend_frames` maps it over the
frames with ``torch.func.vmap``), so a kept frame's features cannot depend on a lost neighbour whatever the
frontend's code, in training and evaluation alike; ``fuse`` is never given inputs; and every level is evaluated by
its own instance of the model (:mod:`avbench.execution.isolation`), so no state links one level to another.

An earlier design instead probed 16 short test clips under ``no_grad`` in fp32 and trusted the frontend when both
paths agreed there; a frontend that mixed frames only in some contexts (inference mode, an autocast dtype, a batch
size, a length, a call count, the padding, large values, its call stack, a cache read back later) passed it and
leaked lost frames into the scores. Structure leaves such gates nothing to switch.

What structure cannot reach — state kept outside the instance (globals, class attributes), a frontend that unwraps
its vmapped frame through private torch APIs — is spot-checked where it would matter, in the evaluation's own
context: before the first batch, a fresh instance evaluates one batch at one lossy level (chosen from the mask
seed) by the honest path, under the same inference mode and autocast, with the same batch composition and clip
lengths, and the evaluation's own outputs for that batch and level must equal them (:func:`spot_check`). A
difference refuses the evaluation with one line. The record (``eval_path``, ``contract``, ``contract_max_diff``)
goes into every predictions file and ``run.json``; ``avbench submit`` refuses folded predictions of a model whose
record says the check failed (files made before this design).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from avbench.data.batching import Batch
from avbench.errors import UserError
from avbench.models.base import Frames, frontend_frames, fuse_view, replace_lost

# outputs of the two paths are bit-identical on one machine (same rows, same kernels); the tolerance only absorbs
# kernels that are not deterministic across calls (some GPU reductions), far below what a leak moves
SPOT_TOLERANCE = {"fp32": 1e-5, "bf16": 1e-2}
SPOT_SALT = 24  # mixes the mask seed into the spot's draw, apart from the masks' own streams

EVAL_PATHS = ("folded", "honest")
OUTCOMES = ("passed", "failed", "not-foldable")


@dataclass(frozen=True)
class Contract:
    """How an evaluation went: ``outcome`` in :data:`OUTCOMES` (``not-foldable``: the model asked for the honest
    path), the spot check's largest output difference (None when nothing was compared) and the path, when it is not
    the one the outcome implies (the honest path asked for by the caller)."""

    outcome: str
    max_diff: float | None = None
    path: str | None = None

    @property
    def eval_path(self) -> str:
        return self.path or ("folded" if self.outcome == "passed" else "honest")

    def record(self, sees_masks: bool) -> dict[str, np.ndarray]:
        """The arrays a predictions file carries about how it was made."""
        return {"eval_path": np.array(self.eval_path), "contract": np.array(self.outcome),
                "contract_max_diff": np.array(np.nan if self.max_diff is None else self.max_diff, np.float64),
                "sees_masks": np.array(bool(sees_masks))}

    def describe(self, label: str) -> str:
        return (f"{label}: folded and zero-filled evaluation differ by {self.max_diff:.3g} on a probe batch (its "
                "frontend mixes frames, so lost frames would leak into kept ones); evaluated by the honest path: "
                "inputs masked, whole model run at every level")


class LeakError(UserError):
    """An evaluation whose outputs differ from a fresh instance's honest evaluation of the same batch and level."""


def level_outputs(model: Any, batch: Batch, clean: tuple[Frames, Frames] | None = None) -> torch.Tensor:
    """Raw outputs of one level of one batch. ``clean`` = (frames, zero frames) of the batch's clean clips: the
    folded path, where ``batch``'s inputs are never read. ``None``: the honest path, the frontend of ``batch``'s
    own (zero-filled) inputs. Lost and padded frames become the frontend of a zero frame either way."""
    frames, zero = clean if clean is not None else frontend_frames(model, batch.inputs)
    return model.fuse(replace_lost(frames, batch.masks, zero), fuse_view(model, batch))


def spot_point(n_batches: int, lossy_levels: Any, seed: int) -> tuple[int, int]:
    """(batch, level) the spot check compares, drawn from ``seed``: any batch, and one of the levels at which that
    batch has both kept and lost frames (``lossy_levels(batch) -> list of level indices``; any level when none)."""
    rng = np.random.default_rng([seed, SPOT_SALT])
    batch = int(rng.integers(n_batches))
    levels = list(lossy_levels(batch))
    return batch, int(levels[int(rng.integers(len(levels)))])


def spot_check(label: str, outputs: torch.Tensor, reference: torch.Tensor, precision: str, where: str) -> float:
    """The largest difference between the evaluation's ``outputs`` and a fresh instance's honest ``reference`` of
    the same batch and level; a :class:`LeakError` naming what can cause it when beyond the tolerance."""
    a, b = outputs.float(), reference.float()
    if a.shape != b.shape:
        raise LeakError(f"model {label!r}: its outputs at {where} have shape {tuple(a.shape)}, a fresh instance's "
                        f"honest evaluation {tuple(b.shape)}; refused")
    diff = float((a - b).abs().max()) if a.numel() else 0.0
    tolerance = SPOT_TOLERANCE[precision]
    if not (diff <= tolerance):  # NaN fails too
        raise LeakError(f"model {label!r}: its outputs at {where} differ by {diff:.3g} from a fresh instance's "
                        "honest evaluation of that batch and level alone (they depend on earlier calls: a counter, "
                        "a cache, state outside the instance; or its frontend reaches beyond its frame); refused")
    return diff


def evaluation_record(data: Any, where: str) -> dict[str, Any]:
    """How one predictions file (an ``np.load`` result or a dict of arrays) was made; ``ValueError`` naming
    ``where`` when the record is missing or malformed."""
    try:
        record = {"eval_path": str(data["eval_path"]), "contract": str(data["contract"]),
                  "sees_masks": bool(np.asarray(data["sees_masks"]).item())}
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{where}: no record of its evaluation path ({exc})") from None
    if record["eval_path"] not in EVAL_PATHS or record["contract"] not in OUTCOMES:
        raise ValueError(f"{where}: unknown evaluation path {record['eval_path']!r} or contract outcome "
                         f"{record['contract']!r}")
    diff = float(np.asarray(data["contract_max_diff"]).item()) if "contract_max_diff" in data else float("nan")
    record["contract_max_diff"] = diff if np.isfinite(diff) else None
    return record


def folded_despite_failure(record: dict[str, Any]) -> bool:
    """A file made through the folded path although the probe did not pass: its kept frames may carry lost ones."""
    return record["eval_path"] == "folded" and record["contract"] != "passed"


def merge_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One model's record over its seeds and corruptions: honest (and failed) if any file was."""
    worst = max(records, key=lambda r: (r["eval_path"] == "honest", r["contract"] == "failed",
                                        r["contract_max_diff"] or 0.0))
    return {**worst, "sees_masks": all(r["sees_masks"] for r in records)}
