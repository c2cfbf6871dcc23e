"""``avbench submit``: a run directory is verified by recomputation, and every kind of bad submission is rejected
with a clear reason and nothing written.

Runs are built here in the exact run-directory format (predictions through the runner's own writer, results
through :func:`avbench.rundir.results.write_results`), with made-up outputs instead of trained models so the tests are
fast; the real ``avbench run`` → ``avbench submit`` path is exercised by ``test_plugin_example.py``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import avbench

from avbench.rundir import predictions
from avbench.atomic import write_json
from avbench.execution.contract import Contract
from avbench.corruptions import get as get_corruption
from avbench.errors import UserError
from avbench.leaderboards.board import build_board
from avbench.leaderboards.schema import load_entries
from avbench.leaderboards.submit import Claim, submit_run
from avbench.models import model_class, parse_label
from avbench.rundir.results import write_results
from avbench.scoring.ranking import CLIPS_ONLY
from avbench.data.store import FeatureStore
from avbench.tasks import get as get_task
from avbench.execution.units import mask_digests

_DIGESTS: dict[tuple[str, str], list[str]] = {}
PASSED = Contract("passed", 0.0)


def _digests(store: FeatureStore, corruption: str, real: bool) -> list[str]:
    """Real mask digests (what submit checks) or label hashes (enough where nothing checks them)."""
    levels = get_corruption(corruption).levels
    if not real:
        return [hashlib.sha256(lv.label.encode()).hexdigest() for lv in levels]
    key = (store.fingerprint, corruption)
    if key not in _DIGESTS:
        _DIGESTS[key] = mask_digests(store, get_corruption(corruption), 0)
    return _DIGESTS[key]


def _sees_masks(label: str) -> bool:
    """The registry's declaration for ``label`` (``raver[n_ctx=16]`` and ``raver@clean`` are ravers)."""
    return model_class(parse_label(label)[0]).sees_masks


def fake_outputs(task: str, targets: np.ndarray, xs: np.ndarray, quality: float, seed: int) -> np.ndarray:
    """Outputs that follow the targets with strength ``quality``, fading with the level's x (like a real model)."""
    rng = np.random.default_rng(seed)
    fade = 1.0 - 0.6 * xs / max(float(xs.max()), 1.0)
    noise = rng.normal(size=(len(xs), *targets.shape))
    if task == "emotion":
        logits = quality * 6.0 * fade[:, None, None] * targets[None] + noise
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    mean = np.nanmean(targets, axis=0)
    return (mean + quality * fade[:, None, None] * (targets[None] - mean) + 0.5 * noise).astype(np.float32)


def make_run(run_dir: Path, store: FeatureStore, models: Mapping[str, tuple[str, float]], corruptions: Sequence[str],
             seeds: Sequence[int] = (0,), bootstrap: int = 100, real_digests: bool = True, split: str = "test",
             weights: str | None = None) -> Path:
    """A complete run directory: ``models`` maps label → (task, quality); ``weights`` is the checkpoint digest the
    predictions carry (every model and seed), or None for predictions bound to no checkpoint."""
    test = store.split_indices(split)
    clip_ids = np.array(store.clips["clip_id"].to_numpy()[test], dtype=str)
    for index, (label, (task, quality)) in enumerate(models.items()):
        targets, names = get_task(task).targets(store, test), get_task(task).names(store)
        for seed in seeds:
            for name in corruptions:
                levels = get_corruption(name).levels
                xs = np.array([lv.x for lv in levels], dtype=np.float64)
                arrays = {**predictions.make(clip_ids, [lv.label for lv in levels], list(xs),
                                             fake_outputs(task, targets, xs, quality, 1000 * index + seed), targets,
                                             task, names, _digests(store, name, real_digests)),
                          **PASSED.record(_sees_masks(label))}
                if weights is not None:
                    arrays[predictions.WEIGHTS_KEY] = np.array(weights)
                predictions.save(predictions.path(run_dir, label, seed, name), arrays)
    corruption_objects = [get_corruption(c) for c in corruptions]
    write_results(run_dir, store, list(models), list(seeds), corruption_objects, bootstrap, 0)
    write_json(run_dir / "run.json", {
        "status": "complete", "avbench_version": "0.1.0", "git_commit": None, "command": "avbench run (test)",
        "dataset": store.name, "dataset_fingerprint": store.fingerprint, "config": "tiny", "models": list(models),
        "model_tasks": {label: task for label, (task, _) in models.items()},
        "config_hashes": {label: hashlib.sha256(label.encode()).hexdigest()[:16] for label in models},
        "corruptions": {c.name: [lv.label for lv in c.levels] for c in corruption_objects}, "seeds": list(seeds),
        "mask_seed": 0, "bootstrap": bootstrap, "overrides": {}, "emotions": store.emotions,
        "attributes": list(store.meta["attributes"]), "device": "cpu", "wall_time_s": 0.0,
        "split": split, "evaluation": {label: {"eval_path": "folded", "contract": "passed", "contract_max_diff": 0.0,
                               "sees_masks": _sees_masks(label)} for label in models},
        **({"checkpoint_weights_sha256": {label: {str(s): weights for s in seeds} for label in models},
            "checkpoint_hashes": {label: hashlib.sha256((weights * len(seeds)).encode()).hexdigest()
                                  for label in models}} if weights is not None else {}),
    })
    return run_dir


def real_run(out: Path, models: list[str], corruptions: list[str], epochs: int = 1) -> Path:
    """A run made by ``avbench run`` itself (one epoch, 100 resamples): what submit re-infers must be real
    checkpoints' predictions."""
    return avbench.run(avbench.RunSpec(models=models, corruptions=corruptions, epochs=epochs, bootstrap=100,
                                       workers=1, out=out), progress=False)


@pytest.fixture(scope="module")
def good_run(synthetic: FeatureStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory.mktemp("good") / "run", ["late-fusion", "raver", "mdre-gru"],
                    ["modality", "markov"])


@pytest.fixture(scope="module")
def small_run(good_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory.mktemp("small") / "run", ["raver"], ["modality"])  # good_run's checkpoint


def test_submit_writes_verified_entries_with_recomputed_numbers(good_run: Path, synthetic: FeatureStore,
                                                                tmp_path: Path) -> None:
    written = submit_run(good_run, entries_dir=tmp_path)
    assert sorted(p.name.split("--")[0] for p in written) == ["late-fusion", "mdre-gru", "raver"]
    entries = {e.model.label: e for e in load_entries(tmp_path)}
    assert entries["mdre-gru"].protocol.task == "attributes"
    assert entries["mdre-gru"].value("modality", "none", "ccc_mean") is not None
    raver = entries["raver"]
    assert raver.provenance == "verified" and raver.protocol.dataset == "synthetic"
    results = pd.read_csv(good_run / "results.csv", dtype={"seed": str, "level": str})
    row = results[(results.model == "raver") & (results.seed == "mean") & (results.corruption == "markov")
                  & (results.level == "pL0.5-pN0.5") & (results.metric == "macro_f1")].iloc[0]
    value = raver.value("markov", "pL0.5-pN0.5", "macro_f1")
    assert value is not None and value.value == pytest.approx(row.value) and value.ci_low == pytest.approx(row.ci_low)
    assert len(raver.metrics) == len(results[(results.model == "raver") & (results.seed == "mean")])
    assert raver.protocol.mask_digests["markov"]["pL0.9-pN0.1"] == mask_digests(synthetic, get_corruption("markov"),
                                                                               0)[-1]
    stored = raver.bootstrap["scores"]["markov"]
    assert np.shape(stored["auc"]) == (1, 100) and len(stored["seeds"]) == 1  # one row per seed, and its own score
    # the board pairs the two verified entries and measures effective robustness against late-fusion
    board = build_board([entries["raver"], entries["late-fusion"]], "synthetic", "emotion", "markov")
    assert {r.entry.model.label for r in board.rows} == {"raver", "late-fusion"}
    assert board.rows[1].test == CLIPS_ONLY and board.rows[1].p_holm is not None
    summary = pd.read_csv(good_run / "summary.csv")
    markov = summary[(summary.corruption == "markov") & summary.model.isin(["raver", "late-fusion"])]
    assert [r.entry.model.label for r in board.rows] == markov.sort_values("auc", ascending=False).model.tolist()
    assert board.rows[1].test == CLIPS_ONLY and board.rows[1].p_holm is not None
    rows = {r.entry.model.label: r for r in board.rows}
    expected_auc = summary[(summary.model == "raver") & (summary.corruption == "markov")]["auc"].iloc[0]
    assert rows["raver"].auc == pytest.approx(expected_auc) == pytest.approx(raver.summaries["markov"]["auc"])
    # the baseline itself has no effective robustness, as in summary.csv
    expected_eff = summary[(summary.model == "raver") & (summary.corruption == "markov")]["effective_robustness"]
    assert rows["raver"].effective == pytest.approx(expected_eff.iloc[0]) and rows["late-fusion"].effective is None
    clean = build_board(list(entries.values()), "synthetic", "emotion", "clean")
    best = max(("raver", "late-fusion"), key=lambda label: entries[label].value("modality", "none", "macro_f1").value)
    assert clean.rows[0].entry.model.label == best
    assert clean.rows[0].score == pytest.approx(entries[best].value("modality", "none", "macro_f1").value)
    assert clean.rows[1].test == CLIPS_ONLY


def test_rounded_claims_pass_and_wrong_claims_fail(small_run: Path, tmp_path: Path) -> None:
    results = pd.read_csv(small_run / "results.csv", dtype={"seed": str, "level": str})
    row = results[(results.seed == "mean") & (results.level == "none") & (results.metric == "macro_f1")].iloc[0]
    claim = {"model": "raver", "corruption": "modality", "level": "none", "metric": "macro_f1"}
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"models": {"raver": {"name": "RAVER (mine)", "code": "https://example.org"}},
                                "metrics": [{**claim, "value": round(row.value, 3)}]}))
    entries = tmp_path / "entries"
    (path,) = submit_run(small_run, claimed=good, entries_dir=entries)
    entry = load_entries(entries)[0]
    assert entry.model.name == "RAVER (mine)" and entry.model.code == "https://example.org" and path.exists()
    bad = tmp_path / "bad.csv"
    pd.DataFrame([{**claim, "seed": "mean", "value": f"{row.value + 0.002:.3f}"}]).to_csv(bad, index=False)
    with pytest.raises(UserError, match="claimed numbers differ from the recomputed ones: raver/mean/modality"):
        submit_run(small_run, claimed=bad, entries_dir=tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_claim_tolerance_follows_written_precision() -> None:
    assert Claim(("m", "mean", "c", "l", "macro_f1"), "0.777").tolerance == pytest.approx(5e-4)
    assert Claim(("m", "mean", "c", "l", "macro_f1"), "0.7771234567891234").tolerance == pytest.approx(1e-9)
    with pytest.raises(UserError, match="is not a number"):
        _ = Claim(("m", "mean", "c", "l", "macro_f1"), "high").tolerance
    assert Claim(("m", "mean", "c", "l", "macro_f1"), "1").tolerance == pytest.approx(5e-4)  # three decimals at least


def test_an_integer_claim_is_checked_to_three_decimals(small_run: Path, tmp_path: Path, cli) -> None:
    claims = tmp_path / "claims.csv"
    pd.DataFrame([{"model": "raver", "seed": "mean", "corruption": "modality", "level": "none", "metric": "macro_f1",
                   "value": "1"}]).to_csv(claims, index=False)
    code, err = cli("submit", str(small_run), "--claimed", str(claims), "--entries", str(tmp_path / "entries"))
    assert code == 2 and "claimed 1, recomputed" in err and not (tmp_path / "entries").exists()


def test_an_existing_entry_is_replaced_only_with_replace(small_run: Path, tmp_path: Path, cli) -> None:
    """Re-submitting, even the same weights, never silently overwrites an entry: ``--replace`` says so."""
    entries = tmp_path / "entries"
    assert cli("submit", str(small_run), "--entries", str(entries))[0] == 0
    before = {p: p.read_bytes() for p in entries.glob("*.json")}
    code, err = cli("submit", str(small_run), "--entries", str(entries))
    assert code == 2 and "--replace" in err and {p: p.read_bytes() for p in entries.glob("*.json")} == before
    assert cli("submit", str(small_run), "--entries", str(entries), "--replace")[0] == 0
    (entry,) = load_entries(entries)
    info = json.loads((small_run / "run.json").read_text())
    assert entry.model.checkpoint_hash == info["checkpoint_hashes"]["raver"] and entry.model.code_hash


def _npz(run: Path) -> Path:
    return predictions.path(run, "raver", 0, "modality")


def _rewrite(run: Path, **changes: object) -> None:
    with np.load(_npz(run), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    with open(_npz(run), "wb") as fh:
        np.savez(fh, **arrays)


def _edit_run_json(run: Path, **changes: object) -> None:
    info = json.loads((run / "run.json").read_text())
    info.update(changes)
    (run / "run.json").write_text(json.dumps(info))


def _outputs(run: Path) -> np.ndarray:
    with np.load(_npz(run), allow_pickle=False) as data:
        return data["outputs"].copy()


def _with_nan(run: Path) -> None:
    out = _outputs(run)
    out[1, 3, 2] = np.nan
    _rewrite(run, outputs=out)


def _out_of_range(run: Path) -> None:
    out = _outputs(run)
    out[0, 0, 0] = 1.5
    _rewrite(run, outputs=out)


def _pickled(run: Path) -> None:
    with np.load(_npz(run), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["outputs"] = np.array([object()], dtype=object)
    with open(_npz(run), "wb") as fh:
        np.savez(fh, **arrays)


def _reordered(run: Path) -> None:
    with np.load(_npz(run), allow_pickle=False) as data:
        _rewrite(run, clip_ids=data["clip_ids"][::-1].copy())


def _other_masks(run: Path) -> None:
    with np.load(_npz(run), allow_pickle=False) as data:
        digests = data["mask_digests"].copy()
    digests[2] = "0" * 64
    _rewrite(run, mask_digests=digests)


def _other_targets(run: Path) -> None:
    with np.load(_npz(run), allow_pickle=False) as data:
        _rewrite(run, targets=data["targets"][:, ::-1].copy())


def _drop_weights(run: Path) -> None:
    """Predictions bound to no checkpoint, while run.json still claims one."""
    with np.load(_npz(run), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != predictions.WEIGHTS_KEY}
    with open(_npz(run), "wb") as fh:
        np.savez(fh, **arrays)


REJECTIONS = {
    "nan": (_with_nan, "NaN or infinite"),
    "out of range": (_out_of_range, r"probabilities out of range \[0, 1\]"),
    "pickle": (_pickled, "cannot be read without pickle"),
    "missing file": (lambda run: _npz(run).unlink(), "incomplete submission: raver seed 0 modality"),
    "truncated": (lambda run: _rewrite(run, outputs=_outputs(run)[:, :10]), "incomplete submission.*shape"),
    "clip order": (_reordered, "protocol mismatch: .*clip ids"),
    "masks": (_other_masks, "level 'video' was evaluated with other masks"),
    "targets": (_other_targets, "targets differ"),
    "levels": (lambda run: _edit_run_json(run, corruptions={"modality": ["none", "audio"]}),
               "protocol mismatch: run.json declares levels"),
    "fingerprint": (lambda run: _edit_run_json(run, dataset_fingerprint="0" * 16), "dataset fingerprint"),
    "traversal": (lambda run: _edit_run_json(run, models=["../../outside"], model_tasks={"../../outside": "emotion"}),
                  "invalid model label"),
    "unfinished": (lambda run: _edit_run_json(run, status="running"), "not complete"),
    "unknown dataset": (lambda run: _edit_run_json(run, dataset="crema-d"), "pass --store"),
    "claims": (lambda run: (run / "results.csv").unlink(), "results.csv is missing"),
    "bootstrap 1": (lambda run: _edit_run_json(run, bootstrap=1), "bootstrap must be at least 100"),
    "bootstrap abc": (lambda run: _edit_run_json(run, bootstrap="abc"), "field .bootstrap.: input should be a valid integer"),
    "repeated seeds": (lambda run: _edit_run_json(run, seeds=[0, 0]), "seeds lists 0 more than once"),
    "repeated models": (lambda run: _edit_run_json(run, models=["raver", "raver"]), "models lists .*more than once"),
    "extra array": (lambda run: _rewrite(run, bomb=np.zeros(8)), "unexpected array"),
    "unchecked weights": (_drop_weights, "cannot be checked"),
    "other weights claimed": (lambda run: _edit_run_json(run, checkpoint_hashes={"raver": "c" * 64}),
                              "checkpoint hash differs from the predictions' weights"),
    "other code": (lambda run: _edit_run_json(run, code_hashes={"raver": "0" * 16}), "other code"),
    "dev split": (lambda run: _edit_run_json(run, split="dev"), "test-split runs only"),
    "no evaluation record": (lambda run: _rewrite(run, eval_path=np.array("")), "evaluation path"),
    "leaky folded file": (lambda run: _rewrite(run, contract=np.array("failed")), "failed the per-frame contract"),
    "record mismatch": (lambda run: _edit_run_json(run, evaluation={"raver": {"eval_path": "honest",
                                                                              "sees_masks": True}}), "disagree"),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_bad_submissions_are_rejected_and_nothing_is_written(case: str, small_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    tamper, message = REJECTIONS[case]
    tamper(run)
    entries = tmp_path / "entries"
    with pytest.raises(UserError, match=message):
        submit_run(run, entries_dir=entries)
    assert not entries.exists()


def test_symlinked_predictions_outside_the_run_are_refused(small_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    outside = tmp_path / "elsewhere.npz"
    shutil.move(_npz(run), outside)
    _npz(run).symlink_to(outside)
    with pytest.raises(UserError, match="outside the run directory"):
        submit_run(run, entries_dir=tmp_path / "entries")
