"""``avbench submit``: re-infer and recompute a submitted run from its per-clip predictions and write ``verified``
entries.

Every number in a verified entry comes from avbench's own rescoring (:func:`avbench.scoring.summary.score_run`, the code
that writes ``results.csv``), never from the submission. The claimed numbers — ``--claimed FILE`` or, without it,
the run's own ``results.csv`` — must agree with the recomputation to the precision they were written with
(a claim of ``0.777`` accepts anything that rounds to it). All checks run before anything is written, so a
rejected submission leaves the entries directory untouched.

Claims file formats: a CSV with the columns of ``results.csv`` (at least ``model, seed, corruption, level,
metric, value``), or JSON ``{"models": {label: {"name", "paper", "citation", "code"}}, "metrics": [{"model",
"seed", "corruption", "level", "metric", "value"}, ...]}``; ``seed`` may be omitted and then means ``"mean"``.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avbench import __version__, validate
from avbench.atomic import folder_lock
from avbench.errors import UserError
from avbench.leaderboards.board import CLEAN_BOARD, build_board, seed_sd
from avbench.leaderboards.schema import (Entry, MetricValue, ModelInfo, Protocol, entry_path, load_entry,
                                         write_entry)
from avbench.leaderboards.reinfer import reinfer_submission
from avbench.leaderboards.verify import Submission, verify_run
from avbench.models import label_training
from avbench.scoring.robustness import curve_area
from avbench.scoring.summary import score_run
from avbench.tasks import get as get_task

KEY = ("model", "seed", "corruption", "level", "metric")
META_FIELDS = ("name", "paper", "citation", "code")
DIGITS = 6  # decimals kept for bootstrap distributions in entries (far below any reported precision)


@dataclass(frozen=True)
class Claim:
    key: tuple[str, str, str, str, str]
    text: str  # the number as written, which fixes the tolerance

    @property
    def value(self) -> float:
        return float(self.text)

    @property
    def tolerance(self) -> float:
        """Half a unit in the last written decimal place, and at least three decimals (a claim of ``1`` is not a
        claim of 0.740)."""
        return validate.claim_tolerance(self.text, "/".join(self.key))


def _claim(row: dict[str, Any], where: str) -> Claim:
    missing = [k for k in ("model", "corruption", "level", "metric", "value") if row.get(k) in (None, "")]
    if missing:
        raise UserError(f"{where}: claimed row lacks {', '.join(missing)}")
    key = (str(row["model"]), str(row.get("seed") or "mean"), str(row["corruption"]), str(row["level"]),
           str(row["metric"]))
    return Claim(key, str(row["value"]))  # type: ignore[arg-type]


def read_claims(path: str | Path) -> tuple[list[Claim], dict[str, dict[str, str]]]:
    """Claimed numbers and optional model metadata from a CSV or JSON claims file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"claims file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is not part of a column name
    except UnicodeDecodeError:
        raise UserError(f"claims file {path} is not UTF-8 text (binary file?)") from None
    if "\0" in text:
        raise UserError(f"claims file {path} is not a text file")
    if path.suffix.lower() == ".json":
        try:  # keep numbers as written: their precision sets the tolerance
            data = json.loads(text, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
            raise UserError(f"{path}: expected an object with a 'metrics' list")
        meta = data.get("models") or {}
        if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
            raise UserError(f"{path}: 'models' must map labels to objects")
        claims = [_claim(row if isinstance(row, dict) else {}, f"{path} metrics[{i}]")
                  for i, row in enumerate(data["metrics"])]
        return claims, {str(k): {f: str(v[f]) for f in META_FIELDS if v.get(f)} for k, v in meta.items()}
    try:
        rows = list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})") from None
    return [_claim(row, f"{path} line {i + 2}") for i, row in enumerate(rows)], {}


def _recompute(sub: Submission) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray], int, int]:
    n_resamples = int(sub.info["bootstrap"])
    seed = int(sub.info["mask_seed"])  # the runner resamples with the mask seed, so every model shares resamples
    scores = score_run(sub.run_dir, sub.store.name, sub.labels, sub.seeds, sub.corruptions, n_resamples, seed)
    return scores.rows, scores.distributions, n_resamples, seed


def check_claims(claims: list[Claim], recomputed: pd.DataFrame, labels: list[str]) -> None:
    """Every claim must exist in the recomputation and agree with it; every model must claim something."""
    values = {tuple(str(v) for v in key): float(value)
              for key, value in zip(recomputed[list(KEY)].itertuples(index=False), recomputed["value"])}
    unclaimed = sorted(set(labels) - {c.key[0] for c in claims})
    if unclaimed:
        raise UserError(f"no claimed numbers for model(s) {', '.join(unclaimed)}")
    wrong = []
    for claim in claims:
        if claim.key[0] not in labels:
            raise UserError(f"claims name model {claim.key[0]!r}, which the submission does not contain")
        if claim.key not in values:
            raise UserError(f"claimed {'/'.join(claim.key)} is not a number avbench computes for this submission")
        if not abs(values[claim.key] - claim.value) <= claim.tolerance:
            wrong.append(f"{'/'.join(claim.key)} claimed {claim.text}, recomputed {values[claim.key]:.6f}")
    if wrong:
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise UserError(f"claimed numbers differ from the recomputed ones: {'; '.join(wrong[:3])}{more}")


def protocol_name(sub: Submission) -> str:
    """``avbench-<digest>`` of what makes two entries directly comparable: data, split, clips and mask seed."""
    key = json.dumps([sub.store.fingerprint, "test", sub.clip_ids_sha256, sub.info["mask_seed"]])
    return "avbench-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _metrics(rows: pd.DataFrame, label: str) -> list[MetricValue]:
    mean = rows[(rows["model"] == label) & (rows["seed"] == "mean")]
    out = []
    for r in mean.itertuples(index=False):
        value = _finite(r.value)
        if value is None:
            raise UserError(f"{label}: {r.metric} at {r.corruption}/{r.level} is undefined (NaN); cannot rank it")
        low, high = _finite(r.ci_low), _finite(r.ci_high)
        both = low is not None and high is not None
        validate.interval_contains(value, low if both else None, high if both else None,
                                   f"{label} {r.metric} at {r.corruption}/{r.level}")
        out.append(MetricValue(str(r.corruption), str(r.level), float(r.x), str(r.metric), value,
                               low if both else None, high if both else None))
    return out


def _bootstrap(sub: Submission, label: str, distributions: dict[tuple[str, str], np.ndarray], n_resamples: int,
               seed: int, rows: pd.DataFrame) -> dict[str, Any]:
    """Per-corruption resampled scores for paired tests between entries, one row per training seed: the AUC of a
    sweep, every level of a categorical corruption (its ranking score depends on the board's shared conditions),
    and the clean score; beside each, the seeds' own test-set scores (``seeds``, ``seed_levels``), which the
    seed-aware test and the retraining spread need."""
    scores: dict[str, dict[str, Any]] = {}
    primary = rows[(rows["model"] == label) & (rows["seed"] != "mean")]
    for corruption in sub.corruptions:
        dist = distributions[(label, corruption.name)]  # (seeds, levels, resamples)
        mine = primary[(primary["corruption"] == corruption.name) & (primary["metric"] == _primary(sub, label))]
        values = np.stack([mine[mine["level"] == lv.label]["value"].to_numpy(np.float64)
                           for lv in corruption.levels])  # (levels, seeds)
        x = np.array([lv.x for lv in corruption.levels])
        if corruption.categorical:
            scores[corruption.name] = {
                "levels": {lv.label: np.round(dist[:, i], DIGITS).tolist() for i, lv in enumerate(corruption.levels)},
                "seed_levels": {lv.label: values[i].tolist() for i, lv in enumerate(corruption.levels)}}
        else:
            scores[corruption.name] = {"auc": np.round(curve_area(x, np.moveaxis(dist, 1, 0)), DIGITS).tolist(),
                                       "seeds": np.asarray(curve_area(x, values)).tolist()}
        if CLEAN_BOARD not in scores and np.any(x == 0.0):
            clean = int(np.argmax(x == 0.0))
            scores[CLEAN_BOARD] = {"clean": np.round(dist[:, clean], DIGITS).tolist(), "seeds": values[clean].tolist()}
    return {"seed": seed, "n_resamples": n_resamples, "scores": scores}


def _primary(sub: Submission, label: str) -> str:
    return get_task(sub.tasks[label]).primary


def _summaries(entry: Entry) -> dict[str, dict[str, Any]]:
    """The leaderboard's own per-corruption summary of this entry, stored for readers without avbench."""
    out = {}
    for corruption in sorted({m.corruption for m in entry.metrics}):
        board = build_board([entry], entry.protocol.dataset, entry.protocol.task, corruption, entry.model.training)
        if not board.rows or not board.sweep:
            continue
        row = board.rows[0]
        out[corruption] = {"metric": board.metric, "clean": row.points[0].value, "auc": row.auc,
                           "auc_ci": list(row.score_ci) if row.score_ci else None, "seeds": row.seeds,
                           "seed_sd": seed_sd(row.seed_scores),
                           "relative_robustness": row.relative,
                           "worst": row.worst.value if row.worst else None,
                           "worst_level": row.worst.level if row.worst else None}
    return out


def build_entries(sub: Submission, recomputed: pd.DataFrame, distributions: dict[tuple[str, str], np.ndarray],
                  n_resamples: int, boot_seed: int, meta: dict[str, dict[str, str]]) -> list[Entry]:
    info = sub.info
    entries = []
    for label in sub.labels:
        given = meta.get(label, {})
        model = ModelInfo(
            name=given.get("name", label), label=label, paper=given.get("paper", ""),
            citation=given.get("citation", ""), code=given.get("code"),
            config_hash=(info.get("config_hashes") or {}).get(label),
            checkpoint_hash=sub.checkpoint_hashes[label], code_hash=sub.code_hashes[label],
            sees_masks=sub.evaluation[label]["sees_masks"], eval_path=sub.evaluation[label]["eval_path"],
            training=label_training(label),
        )
        protocol = Protocol(
            name=protocol_name(sub), dataset=sub.store.name, task=sub.tasks[label], split="test",
            corruptions={c.name: [lv.label for lv in c.levels] for c in sub.corruptions}, seeds=sub.seeds,
            mask_seed=int(info["mask_seed"]), dataset_fingerprint=sub.store.fingerprint,
            clip_ids_sha256=sub.clip_ids_sha256, n_clips=len(sub.store.split_indices("test")),
            mask_digests={c.name: dict(zip((lv.label for lv in c.levels), sub.digests[c.name]))
                          for c in sub.corruptions},
            evaluation=f"{len(sub.seeds)} seed(s); 95 % clip-bootstrap intervals ({n_resamples} resamples, seed "
                       f"{boot_seed}), t intervals across seeds when there are several; ranked with the seed-aware "
                       "paired test",
        )
        entry = Entry(
            provenance="verified", model=model, protocol=protocol, metrics=_metrics(recomputed, label),
            source={"run": sub.run_dir.name, "command": info.get("command"), "config": info.get("config"),
                    "epochs": info.get("epochs"), "precision": info.get("precision"),
                    "run_avbench_version": info.get("avbench_version"), "git_commit": info.get("git_commit"),
                    "verified_with": f"avbench {__version__}", "predictions_sha256": sub.predictions_sha256[label]},
            bootstrap=_bootstrap(sub, label, distributions, n_resamples, boot_seed, recomputed),
        )
        entries.append(replace(entry, summaries=_summaries(entry)))
    return entries


def check_replacements(entries: list[Entry], entries_dir: str | Path | None, replace_existing: bool) -> None:
    """An entry is never overwritten by accident: replacing any existing one (verified or reported, same weights
    or not) needs ``--replace``."""
    if replace_existing:
        return
    for entry in entries:
        path = entry_path(entry, entries_dir)
        if path.exists():
            existing = load_entry(path)
            raise UserError(f"{path.name} already holds a {existing.provenance} entry for {entry.model.label!r} "
                            f"(checkpoint {existing.model.checkpoint_hash}, submitted {entry.model.checkpoint_hash}); "
                            "pass --replace to overwrite it")


def submit_run(path: str | Path, claimed: str | Path | None = None, entries_dir: str | Path | None = None,
               store: str | Path | None = None, replace_existing: bool = False) -> list[Path]:
    """Verify a run directory — protocol, predictions, rescoring, and re-inference of a sample by the checkpoints
    they name — and write one verified entry per model; returns the written paths. Submits to one entries folder
    are serialised (a lock in it), so two at once can never both replace the same entry."""
    if not Path(path).is_dir():
        raise UserError(f"submission {path} is not a directory")
    if claimed is None:
        results = Path(path) / "results.csv"
        if not results.is_file():
            raise UserError(f"incomplete submission: {results} is missing; pass --claimed with the claimed numbers")
        claims, meta = read_claims(results)
    else:
        claims, meta = read_claims(claimed)
    sub = verify_run(path, store)
    reinfer_submission(sub)
    recomputed, distributions, n_resamples, boot_seed = _recompute(sub)
    check_claims(claims, recomputed, sub.labels)
    entries = build_entries(sub, recomputed, distributions, n_resamples, boot_seed, meta)
    with folder_lock(entry_path(entries[0], entries_dir).parent, "submit"):
        check_replacements(entries, entries_dir, replace_existing)  # all paths checked before the first write
        return [write_entry(entry, entries_dir) for entry in entries]
