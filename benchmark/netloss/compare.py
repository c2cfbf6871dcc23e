"""``avbench compare-loss``: the papers' feature-level masking beside loss applied to the media, on the same clips,
the same losses and the same models.

For one corruption and the levels extracted at signal level (``avbench extract --signal-loss``), every model is
trained on the clean store (or its cached checkpoint reused) and evaluated twice per level:

* **feature level** — the clean test features with the level's keep-masks, exactly as ``avbench run`` does;
* **signal level** — the features the encoders made from the media after the same packets were lost and
  concealed (one store per level and concealment), with every audio and video frame received: the receiver's
  concealment, not a mask, is what the model gets. Words are not a signal and keep their feature-level mask on
  both sides.

Before anything is evaluated, every signal-level store must have been made from this clean store with the masks
this command draws (its recorded mask digest equals the feature-level one), so the two sides differ only in where
the loss was applied. Both sides are written as ordinary predictions files and scored by the one summariser
(:mod:`avbench.scoring.summary`) with one bootstrap seed, so they are resampled on the same clips: per model the score gap
(signal − feature, area under the primary metric's curve over the shared levels) comes with a paired 95 %
interval and p, per level the difference of the two curves, and per concealment Kendall's τ between the model
rankings the two sides produce (τ = 1: the same order).
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench.corruptions.base import Corruption, Level
from avbench.errors import UserError
from avbench.models import check_settings
from avbench.data.store import FeatureStore
from avbench.corruptions import masks_for
from avbench.corruptions.clocks import frame_count
from avbench.atomic import write_json
from avbench.rundir import predictions
from avbench.output import terminal
from avbench import validate
from avbench.corruptions.configured import resolve
from avbench.data.datasets import open_dataset
from avbench.scoring.stats import _paired_summary
from avbench.tasks import get as get_task
from avbench.corruptions.configured import identity

SPEC_FILE = "compare-loss.json"
CONFIDENCE = 0.95
SIGNAL_PREFIX = "signal-"


@dataclass
class ComparisonSpec:
    """What is compared: the clean store, the corruption (and its configuration), models, seeds and settings."""

    dataset: str
    corruption: str
    corruption_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    explicit: bool = True
    concealments: list[str] | None = None  # None: every concealment with stores
    seeds: list[int] = field(default_factory=lambda: [0])
    config: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    epochs: int | None = None
    precision: str = "fp32"
    mask_seed: int = 0
    bootstrap: int = 1000
    device: str = "cpu"
    signal: str | None = None  # where the signal-level stores are (default <dataset>.signal)
    out: str | None = None

    def identity(self) -> dict[str, Any]:

        keys = ("corruption", "models", "concealments", "seeds", "config", "overrides", "task", "epochs", "precision",
                "mask_seed", "bootstrap")
        return {**{k: getattr(self, k) for k in keys}, "corruption_settings": identity(self.corruption_settings)}


@dataclass
class LossComparison:
    """The outcome: per model × concealment, per level, and per concealment × task (Kendall's τ)."""

    out: Path
    corruption: Corruption
    concealments: list[str]
    models: pd.DataFrame  # model, task, metric, concealment, feature, signal, gap, ci_low, ci_high, p
    levels: pd.DataFrame  # model, task, metric, concealment, level, x, feature, signal, difference
    kendall: pd.DataFrame  # concealment, task, models, tau, p
    dataset: str
    stores: dict[str, dict[str, str]]  # concealment -> level -> store path


def signal_stores(clean: FeatureStore, corruption: Corruption, root: Path, mask_seed: int,
                  wanted: list[str] | None) -> tuple[dict[str, dict[str, Path]], list[Level]]:
    """The signal-level stores of ``corruption`` made from ``clean``: concealment → level → path, and the levels
    every chosen concealment has (in the corruption's order). Stores of other clean stores or mask seeds are
    refused with the reason."""
    from avbench.corpora.signal_loss import corruption_folder  # deferred: av

    base = Path(root) / corruption_folder(corruption)
    found: dict[str, dict[str, Path]] = {}
    for meta_file in sorted(base.glob("*/*/meta.json")) if base.is_dir() else []:
        record = json.loads(meta_file.read_text(encoding="utf-8")).get("signal_loss") or {}
        where = meta_file.parent
        if record.get("base_store", {}).get("fingerprint") != clean.fingerprint:
            raise UserError(f"{where} was extracted from another store (fingerprint "
                            f"{record.get('base_store', {}).get('fingerprint')}, {clean.path} has {clean.fingerprint})")
        if record.get("mask_seed") != mask_seed:
            raise UserError(f"{where} holds loss patterns of mask seed {record.get('mask_seed')}; pass --mask-seed "
                            f"{record.get('mask_seed')} (or extract again with --mask-seed {mask_seed})")
        found.setdefault(str(record["concealment"]), {})[str(record["level"])] = where
    if not found:
        raise UserError(f"no signal-level stores of {corruption.name} under {base}: run `avbench extract … --out "
                        f"{clean.path} --signal-loss {corruption.name}` first")
    chosen = list(found) if wanted is None else wanted
    for name in chosen:
        if name not in found:
            raise UserError(f"no signal-level stores of {corruption.name} with concealment {name!r} under {base} "
                            f"(found: {', '.join(found)})")
    labels = [lv for lv in corruption.levels if all(lv.label in found[c] for c in chosen)]
    missing = sorted({label for c in chosen for label in found[c]} - {lv.label for lv in labels})
    if missing:
        warnings.warn(f"level(s) {', '.join(missing)} lack a store for some concealment and are left out")
    if len(labels) < 2:
        raise UserError(f"compare-loss needs at least two levels extracted with every concealment (e.g. the clean one "
                        f"and a lossy one); {', '.join(chosen)} share {len(labels)} under {base}")
    return {c: found[c] for c in chosen}, labels


def _received(original: Corruption, level: Level, mask_seed: int, concealment: str) -> Corruption:
    """One level of the signal-level side: audio and video received in full (the concealment is in the features),
    words masked as at feature level (text is no signal)."""

    def fn(timing: Any, params: dict[str, Any], rng: np.random.Generator, modalities: tuple[str, ...]
           ) -> dict[str, np.ndarray]:
        masks = {m: np.ones(frame_count(timing, m), dtype=bool) for m in modalities}
        if "text" in modalities:
            masks["text"] = masks_for(original, level, timing, mask_seed, ("text",))["text"]
        return masks

    return Corruption(name=f"{SIGNAL_PREFIX}{concealment}", description="signal-level loss, concealed", paper="",
                      x_label=original.x_label, levels=(level,), fn=fn, variant=original.variant)


def _check_digests(clean: FeatureStore, corruption: Corruption, levels: list[Level],
                   stores: dict[str, dict[str, Path]], mask_seed: int) -> None:
    from avbench.execution.units import mask_digests  # deferred: safetensors

    mine = dict(zip([lv.label for lv in levels], mask_digests(clean, corruption, mask_seed)))
    for concealment, by_level in stores.items():
        for label, where in by_level.items():
            if label not in mine:
                continue
            recorded = FeatureStore(where).meta["signal_loss"]["mask_digest"]
            if recorded != mine[label]:
                raise UserError(f"{where} was made with other loss patterns than {corruption.name} level {label} draws "
                                "now (mask digest differs): other traces or parameters; extract it again")


def _open_out(spec: ComparisonSpec, out: Path) -> None:

    record = out / SPEC_FILE
    if record.is_file():
        previous = json.loads(record.read_text(encoding="utf-8"))
        if previous.get("identity") != json.loads(json.dumps(spec.identity(), default=str)):
            raise UserError(f"{out} holds another loss comparison (other models, seeds or settings); choose another "
                            "--out")
    out.mkdir(parents=True, exist_ok=True)
    write_json(record, {"identity": spec.identity(), "dataset": spec.dataset, "status": "running"})


def default_out(spec: ComparisonSpec, clean: FeatureStore) -> Path:
    return Path("runs") / f"compare-loss-{clean.name}-{spec.corruption}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def compare_loss(spec: ComparisonSpec, console: Any, progress: bool = True) -> LossComparison:
    """Train or load every model, predict both sides, score them and return the comparison (see the module)."""
    from avbench.corpora.signal_loss import signal_root  # deferred: av
    from avbench.runner import resolve_models  # deferred: pydantic, safetensors, scipy
    from avbench.execution.training import TrainSpec, cached_weights, load_or_train  # deferred: safetensors
    from avbench.execution.units import predict_under_corruption, set_threads  # deferred: safetensors

    validate.unique(spec.seeds, "seeds")
    for seed in spec.seeds:
        validate.at_least(seed, 0, "every seed")
    validate.at_least(spec.mask_seed, 0, "--mask-seed")
    validate.at_least(spec.epochs, 1, "--epochs")
    validate.bootstrap_count(spec.bootstrap)
    validate.device_name(spec.device)
    check_settings(spec.models, spec.config, spec.overrides)
    validate.checkpoint_cache()
    clean = open_dataset(spec.dataset)
    full = resolve(spec.corruption, spec.corruption_settings)
    stores, levels = signal_stores(clean, full, Path(spec.signal) if spec.signal else signal_root(clean.path),
                                   spec.mask_seed, spec.concealments)
    corruption = dataclasses.replace(full, levels=tuple(levels))
    _check_digests(clean, corruption, levels, stores, spec.mask_seed)
    names = resolve_models(spec.models, clean.modalities, spec.task, spec.explicit, clean.labelled_tasks)
    out = Path(spec.out) if spec.out else default_out(spec, clean)
    _open_out(spec, out)
    signal_stores_open = {c: {lv.label: open_dataset(str(stores[c][lv.label])) for lv in levels} for c in stores}
    sides = [corruption, *(dataclasses.replace(corruption, name=f"{SIGNAL_PREFIX}{c}") for c in stores)]
    set_threads()
    train_specs = [TrainSpec(m, seed, spec.config, spec.task, dict(spec.overrides), spec.epochs, spec.precision)
                   for m in names for seed in spec.seeds]
    labels = list(dict.fromkeys(ts.label for ts in train_specs))
    with terminal.progress(console, "models trained or loaded, then evaluated on both sides", len(train_specs),
                           progress) as bar:
        for ts in train_specs:
            files = [predictions.path(out, ts.label, ts.seed, side.name) for side in sides]
            weights = cached_weights(ts, clean)  # kept only when made by the checkpoint cached now
            if all(predictions.is_current(f, len(levels), weights) for f in files):
                bar.update(advance=1, description=f"{ts.label} seed {ts.seed} done earlier")
                continue
            model, _, directory = load_or_train(ts, clean, spec.device)
            weights = json.loads((directory / "checkpoint.json").read_text())["weights_sha256"]
            feature = predict_under_corruption(model, clean, corruption, spec.mask_seed, spec.device,
                                               precision=spec.precision)  # with its record of how it was made
            feature[predictions.WEIGHTS_KEY] = np.array(weights)
            eval_path = str(feature["eval_path"])
            predictions.save(files[0], feature)
            for concealment, target in zip(stores, files[1:]):
                outputs = []
                for level in levels:
                    received = _received(corruption, level, spec.mask_seed, concealment)
                    store = signal_stores_open[concealment][level.label]
                    one = predict_under_corruption(model, store, received, spec.mask_seed, spec.device,
                                                   eval_path=eval_path, precision=spec.precision)
                    if not np.array_equal(one["clip_ids"], feature["clip_ids"]):
                        raise UserError(f"{store.path} holds other test clips than {clean.path}")
                    outputs.append(one["outputs"][0])
                recorded = [signal_stores_open[concealment][lv.label].meta["signal_loss"]["mask_digest"]
                            for lv in levels]
                signal = {**feature, "outputs": np.stack(outputs).astype(np.float32),
                          "mask_digests": np.array(recorded)}
                predictions.save(target, signal)  # feature carries the record and the weights
            bar.update(advance=1, description=f"{ts.label} seed {ts.seed} evaluated")
    result = _score(out, clean, corruption, sides, list(stores), labels, spec)
    result.stores = {c: {label: str(p) for label, p in by.items()} for c, by in stores.items()}
    write_json(out / SPEC_FILE, {"identity": spec.identity(), "dataset": spec.dataset, "status": "complete",
                                 "dataset_fingerprint": clean.fingerprint, "levels": [lv.label for lv in levels],
                                 "stores": result.stores, "models": labels, "seeds": spec.seeds})
    return result


def _score(out: Path, clean: FeatureStore, corruption: Corruption, sides: list[Corruption], concealments: list[str],
           labels: list[str], spec: ComparisonSpec) -> LossComparison:
    """Both sides through the one summariser; gaps paired by the shared bootstrap resamples; Kendall's τ."""
    from scipy.stats import kendalltau  # deferred: scipy

    from avbench.scoring.summary import run_curves, score_run, summarise  # deferred: scipy

    scores = score_run(out, clean.name, labels, spec.seeds, sides, spec.bootstrap, spec.mask_seed)
    model_rows, level_rows, tau_rows = [], [], []
    for task in dict.fromkeys(scores.rows["task"]):
        metric = get_task(task).primary
        by_side = {}
        for side in sides:
            curves = run_curves(scores, task, side.name)
            by_side[side.name] = {c.model: (c, s) for c, s in zip(curves, summarise(curves, metric, side.name, False,
                                                                                     None))}
        feature = by_side[corruption.name]
        for concealment in concealments:
            signal = by_side[f"{SIGNAL_PREFIX}{concealment}"]
            for model, (f_curve, f_sum) in feature.items():
                s_curve, s_sum = signal[model]
                d, lo, hi, p = _paired_summary(s_sum.score - f_sum.score, s_sum.distribution - f_sum.distribution,
                                               CONFIDENCE)
                key = {"corruption": corruption.name, "model": model, "task": task, "metric": metric,
                       "concealment": concealment}
                model_rows.append({**key, "feature": f_sum.score, "signal": s_sum.score, "gap": d, "ci_low": lo,
                                   "ci_high": hi, "p": p})
                for fp, sp in zip(f_curve.points, s_curve.points):
                    level_rows.append({**key, "level": fp.level, "x": fp.x, "feature": fp.value,
                                       "signal": sp.value, "difference": sp.value - fp.value})
            models = list(feature)
            if len(models) >= 2:
                tau, p_tau = kendalltau([feature[m][1].score for m in models], [signal[m][1].score for m in models])
                tau, p_tau = float(tau), float(p_tau)
            else:
                tau = p_tau = float("nan")
            tau_rows.append({"corruption": corruption.name, "concealment": concealment, "task": task,
                             "metric": metric, "models": len(models), "tau": tau, "p": p_tau})
    return LossComparison(out, corruption, concealments, pd.DataFrame(model_rows), pd.DataFrame(level_rows),
                          pd.DataFrame(tau_rows), clean.name, {})
