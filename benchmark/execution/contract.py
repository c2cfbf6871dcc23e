"""The runtime check of the folded frontend: may a model be evaluated by computing its frontend once per clip?

Evaluation folds every model by default: ``frontend`` runs once on the clean clip and each corruption level only
replaces the lost frames by the frontend of a zero frame before ``fuse`` (:mod:`avbench.execution.units`). That equals
zero-filling the inputs only if the frontend treats every frame on its own. A frontend that mixes neighbouring
frames — a temporal convolution, a Conformer convolution module, a recurrent layer — would let every kept frame
carry its lost neighbours' content, so the model would be scored on frames it never received. Past the frontend
the folded path gives the model zeros for inputs (their shapes only), so ``fuse`` cannot read them either.

The promise is therefore checked, not believed. Before a model's evaluation, :func:`check_folding` runs a probe
batch under a heavy-loss mask both ways — folded (``fuse(apply_masks(frontend(x)))``) and honest (the whole model
on the zero-filled inputs) — and a difference beyond float tolerance sends the model down the honest path: inputs
masked and the whole model run at every level. Models that know they are not per-frame declare
``foldable = False`` and are never folded. The outcome is recorded in every predictions file (``eval_path``,
``contract``) and in ``run.json``, and ``avbench submit`` refuses folded predictions of a model that failed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from avbench.data.batching import Batch, Collator
from avbench.models.base import visible
from avbench.data.store import FeatureStore

PROBE_CLIPS = 16
PROBE_KEEP = 0.3  # each frame (word) survives with this probability: 70 % loss, so nearly every kept frame has a
# lost neighbour and any leak through a temporal frontend shows
RTOL = ATOL = 1e-4  # float32 noise of the two paths is ~1e-6; a leak moves logits by orders of magnitude more

EVAL_PATHS = ("folded", "honest")
OUTCOMES = ("passed", "failed", "not-foldable")


@dataclass(frozen=True)
class Contract:
    """What the probe found: ``outcome`` in :data:`OUTCOMES`, the largest output difference (None when not probed)."""

    outcome: str
    max_diff: float | None = None

    @property
    def eval_path(self) -> str:
        return "folded" if self.outcome == "passed" else "honest"

    def record(self, sees_masks: bool) -> dict[str, np.ndarray]:
        """The arrays a predictions file carries about how it was made."""
        return {"eval_path": np.array(self.eval_path), "contract": np.array(self.outcome),
                "contract_max_diff": np.array(np.nan if self.max_diff is None else self.max_diff, np.float64),
                "sees_masks": np.array(bool(sees_masks))}

    def describe(self, label: str) -> str:
        return (f"{label}: folded and zero-filled evaluation differ by {self.max_diff:.3g} on a probe batch (its "
                "frontend mixes frames, so lost frames would leak into kept ones); evaluated by the honest path: "
                "inputs masked, whole model run at every level")


def folded_outputs(model: Any, frames: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
    """The folded path: ``frames`` = frontend of the clean clips, lost frames replaced after it, then ``fuse``.

    Past the frontend the model gets ``batch`` with zeros for inputs (:meth:`Batch.shapes_only`): it needs only
    their shapes there, so ``batch`` need not be zero-filled (a copy of every input at every level)."""
    batch = batch.shapes_only()
    return model.fuse(model.apply_masks(frames, batch), visible(model, batch))


def honest_outputs(model: Any, batch: Batch) -> torch.Tensor:
    """The honest path: the whole model on ``batch``, whose lost frames are zero in the inputs."""
    return model(visible(model, batch))


def probe_batch(store: FeatureStore, modalities: tuple[str, ...], seed: int, device: str) -> tuple[Batch, Batch]:
    """(clean, lossy): up to :data:`PROBE_CLIPS` test clips, and the same clips with ~70 % of every modality lost
    (zero-filled), drawn from ``seed``."""
    collator = Collator(store, modalities)
    clean = collator(store.split_indices("test")[:PROBE_CLIPS]).to(device)
    generator = torch.Generator().manual_seed(seed)
    keep = {m: (torch.rand(k.shape, generator=generator) < PROBE_KEEP).to(k.device) for m, k in clean.masks.items()}
    return clean, clean.with_masks(keep)


@torch.no_grad()
def check_folding(model: Any, store: FeatureStore, seed: int = 0, device: str = "cpu") -> Contract:
    """Compare the folded and the honest path on a probe batch (``model`` in eval mode afterwards)."""
    if not type(model).foldable:
        return Contract("not-foldable")
    model.eval()
    clean, lossy = probe_batch(store, type(model).modalities, seed, device)
    folded = folded_outputs(model, model.frontend(clean.inputs), lossy).float()
    honest = honest_outputs(model, lossy).float()
    if folded.shape != honest.shape:
        return Contract("failed", float("inf"))
    diff = float((folded - honest).abs().max()) if folded.numel() else 0.0
    passed = bool(torch.allclose(folded, honest, rtol=RTOL, atol=ATOL))
    return Contract("passed" if passed else "failed", diff)


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
