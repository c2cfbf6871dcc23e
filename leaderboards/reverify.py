"""``avbench verify ENTRY``: re-run a verified entry's model on this machine and judge agreement by its seed interval.

Training is deterministic on one machine but not across machines: another CPU generation takes other kernel paths,
the weights differ in their last bits and training amplifies that into a different model, as another seed would.
So a re-run that does not reproduce an entry bit for bit has not failed; it fails when it lies outside what
retraining explains. Each ranking score of the entry (the clean score, the area under each sweep, the mean over a
categorical corruption's conditions) is compared with the re-run's seed mean through the prediction interval for
the mean of S′ new seeds given the entry's S seeds,

    |mean′ − mean| ≤ t(S − 1, 0.975) · sd · √(1/S + 1/S′),

with sd the entry's between-seed SD. The test set and masks are the entry's (the protocol is checked), so the clip
variance cancels and only retraining is left. A one-seed entry has no seed interval: the architecture's spread known
from multi-seed entries (:mod:`avbench.leaderboards.spread`) stands in, with the normal quantile; without one, the
re-run must reproduce the entry's scores to 1e-6.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbench.errors import UserError
from avbench.leaderboards.schema import ENTRIES_DIR, Entry, load_entries, load_entry
from avbench.output.tables import Num, Table

EXACT = 1e-6  # what "reproduced" means without a seed interval: float rounding of the stored numbers


@dataclass(frozen=True)
class Agreement:
    """One ranking score of the entry beside the re-run's."""

    board: str  # "clean" or a corruption
    entry_mean: float
    entry_seeds: int
    rerun_mean: float
    rerun_seeds: int
    tolerance: float
    basis: str  # what the tolerance is made of

    @property
    def difference(self) -> float:
        return self.rerun_mean - self.entry_mean

    @property
    def agrees(self) -> bool:
        return abs(self.difference) <= self.tolerance


def find_entry(name: str, directory: Path | None = None) -> Entry:
    """An entry file, or the one verified entry of a model label (or file stem) in the entries directory."""
    path = Path(name)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UserError(f"no entry file {path}")
        entry = load_entry(path)
    else:
        matches = [e for e in load_entries(directory) if e.provenance == "verified"
                   and name in (e.model.label, e.model.name, e.id)]
        if len(matches) != 1:
            found = ", ".join(e.id for e in matches)
            raise UserError(f"{'no' if not matches else 'more than one'} verified entry named {name!r} in "
                            f"{directory or ENTRIES_DIR}" + (f" ({found}); pass its file" if matches else ""))
        entry = matches[0]
    if entry.provenance != "verified":
        raise UserError(f"{entry.id} is a {entry.provenance} entry: only verified entries can be re-run")
    return entry


def tolerance(entry_scores: np.ndarray, new_seeds: int, known_sd: float | None) -> tuple[float, str]:
    """How far the re-run's seed mean may lie from the entry's (see the module docstring), and why."""
    from scipy import special  # deferred: scipy

    n = len(entry_scores)
    if n > 1:
        sd = float(np.std(entry_scores, ddof=1))
        return (float(special.stdtrit(n - 1, 0.975)) * sd * math.sqrt(1 / n + 1 / new_seeds),
                f"seed interval of the entry's {n} seeds (sd {sd:.4f})")
    if known_sd is not None:
        return (float(special.ndtri(0.975)) * known_sd * math.sqrt(1 + 1 / new_seeds),
                f"the architecture's known spread (sd {known_sd:.4f})")
    return EXACT, "exact (one seed, no known spread)"


def _entry_scores(entry: Entry, board: str) -> tuple[float, np.ndarray] | None:
    from avbench.leaderboards.board import build_board  # deferred: torch (the model registry), scipy

    rows = build_board([entry], entry.protocol.dataset, entry.protocol.task, board,
                       training=entry.model.training).rows
    if not rows or rows[0].score is None or rows[0].summary.seed_scores is None:
        return None
    return float(rows[0].score), rows[0].summary.seed_scores


def _rerun_scores(run_dir: Path, entry: Entry, seeds: list[int], n_resamples: int, boot_seed: int,
                  names: list[str]) -> dict[str, tuple[float, np.ndarray]]:
    """The re-run's seed mean and per-seed ranking scores per board (clean and every corruption)."""
    from avbench.corruptions import get as get_corruption  # deferred: the corruption registry (torch)
    from avbench.scoring.summary import categorical, run_curves, score_run, summarise  # deferred: scipy
    from avbench.tasks import get as get_task  # deferred: torch

    label, task = entry.model.label or entry.model.name, entry.protocol.task
    metric = get_task(task).primary
    corruptions = [get_corruption(name) for name in names]
    scores = score_run(run_dir, entry.protocol.dataset, [label], seeds, corruptions, n_resamples, boot_seed)
    out: dict[str, tuple[float, np.ndarray]] = {}
    for corruption in corruptions:
        (curve,) = run_curves(scores, task, corruption.name)
        (summary,) = summarise([curve], metric, corruption.name, categorical(corruption.name), None)
        if summary.score is not None and summary.seed_scores is not None:
            out[corruption.name] = (float(summary.score), summary.seed_scores)
        clean = next((p for p in curve.points if p.x == 0.0), None)
        if "clean" not in out and clean is not None and curve.seed_values is not None:
            values = np.asarray(curve.seed_values[clean.level], np.float64)
            out["clean"] = (float(values.mean()), values)
    return out


def _check_protocol(entry: Entry, run_dir: Path, label: str, seeds: list[int], corruptions: list[str]) -> None:
    """The re-run must have measured the entry's protocol: the same data, clips and masks."""
    from avbench.rundir import predictions  # deferred: torch
    from avbench.rundir.record import read_record  # deferred: pydantic

    info = read_record(run_dir)
    if entry.protocol.dataset_fingerprint and info.dataset_fingerprint != entry.protocol.dataset_fingerprint:
        raise UserError(f"the re-run's dataset fingerprint {info.dataset_fingerprint} is not the entry's "
                        f"{entry.protocol.dataset_fingerprint}: another dataset")
    for corruption in corruptions:
        digests = entry.protocol.mask_digests.get(corruption, {})
        data = predictions.load(predictions.path(run_dir, label, seeds[0], corruption))
        mine = dict(zip((str(level) for level in data["levels"]), (str(d) for d in data["mask_digests"])))
        if mine != digests:
            raise UserError(f"the re-run's masks under {corruption} are not the entry's: another protocol")


def reverify(entry: Entry, out: Path, seeds: list[int] | None = None, retrain: bool = False,
             store: Path | None = None, workers: int | None = None, corruptions: list[str] | None = None
             ) -> list[Agreement]:
    """Re-run ``entry``'s model on this machine (checkpoints from the cache unless ``retrain``) under its
    corruptions (or those of them named) and judge every ranking score against the entry's seed interval."""
    from avbench.leaderboards.spread import known_spread  # deferred: torch (the model registry)
    from avbench.models.registry import parse_label  # deferred: torch
    from avbench.runner import RunSpec, run  # deferred: torch

    label = entry.model.label or entry.model.name
    name, overrides = parse_label(label)
    dataset = str(store) if store is not None else entry.protocol.dataset
    chosen = list(seeds or entry.protocol.seeds or [0])
    measured = list(entry.protocol.corruptions)
    unknown_names = sorted(set(corruptions or []) - set(measured))
    if unknown_names:
        raise UserError(f"{entry.id} measured no {', '.join(unknown_names)}; it has {', '.join(measured)}")
    named = [c for c in measured if c in (corruptions or measured)]
    n_resamples = int(entry.bootstrap.get("n_resamples", 1000))
    boot_seed = int(entry.protocol.mask_seed or 0)
    spec = RunSpec(models=[name], corruptions=named, dataset=dataset,
                   task=entry.protocol.task, seeds=chosen, config=str(entry.source.get("config") or "tiny"),
                   overrides=overrides, bootstrap=n_resamples, out=out, workers=workers, mask_seed=boot_seed,
                   epochs=entry.source.get("epochs"), precision=str(entry.source.get("precision") or "fp32"),
                   training_protocols=[entry.model.training])  # trained as the entry was
    previous = os.environ.get("AVBENCH_CACHE")
    with tempfile.TemporaryDirectory(prefix="avbench-verify-") as scratch:
        if retrain:  # a cache of its own: every seed is trained again here, none reused
            os.environ["AVBENCH_CACHE"] = scratch
        try:
            run_dir = run(spec)
        finally:
            if retrain:
                if previous is None:
                    del os.environ["AVBENCH_CACHE"]
                else:
                    os.environ["AVBENCH_CACHE"] = previous
    _check_protocol(entry, run_dir, label, chosen, named)
    rerun = _rerun_scores(run_dir, entry, chosen, n_resamples, boot_seed, named)
    judged = []
    for board in ["clean", *named]:
        mine, theirs = rerun.get(board), _entry_scores(entry, board)
        if mine is None or theirs is None:
            continue
        spread = known_spread(entry.protocol.dataset, entry.protocol.task, board, [label]).get(label)
        tol, basis = tolerance(theirs[1], len(mine[1]), spread)
        judged.append(Agreement(board, theirs[0], len(theirs[1]), mine[0], len(mine[1]), tol, basis))
    if not judged:
        raise UserError(f"{entry.id} stores no per-seed scores to compare with")
    return judged


def agreement_table(entry: Entry, judged: list[Agreement]) -> Table:
    """The verdict as a :class:`avbench.output.tables.Table`."""
    rows = [[a.board, Num(a.entry_mean, digits=4), str(a.entry_seeds), Num(a.rerun_mean, digits=4),
             str(a.rerun_seeds), Num(a.difference, digits=4), Num(a.tolerance, digits=4),
             "yes" if a.agrees else "NO", a.basis] for a in judged]
    return Table(f"{entry.id}: re-run on this machine against the entry",
                 ["score", "entry", "seeds", "re-run", "seeds", "difference", "tolerance", "agrees", "tolerance from"],
                 rows, ["tolerance = half-width of the 95 % prediction interval for the re-run's seed mean given the "
                        "entry's seeds (retraining only: the test set and masks are the entry's)."])
