"""A run from a configuration file, repeated from its own directory; the Python API's Run; machine-readable output of
show, compare, datasets info and leaderboard with the API's field names; the seaborn figures of show --plots."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import avbench
from conftest import run_avbench

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIG = """\
models = ["ser", "late-fusion"]
corruption = "markov"
bootstrap = 100
epochs = 1
workers = 1

[slurm]
partition = "gpu"
time = "2:00:00"
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, session_cache, synthetic) -> tuple[Path, Path]:
    """Run A from a TOML file; run B repeats A from A's directory (with the CLI, in this process)."""
    root = tmp_path_factory.mktemp("configured")
    (root / "run.toml").write_text(f'out = "{root / "a"}"\n' + CONFIG)
    for args in (["--config", str(root / "run.toml")], ["--config", str(root / "a"), "--out", str(root / "b")]):
        assert run_avbench("run", *args) == 0, f"avbench run {' '.join(args)} failed"
    return root / "a", root / "b"


def test_a_run_repeats_from_its_own_directory(runs) -> None:
    a, b = runs
    recorded = json.loads((a / "run.json").read_text())["configuration"]
    assert recorded["models"] == ["ser", "late-fusion"] and recorded["corruption"] == ["markov"]
    assert recorded["seed_list"] == [0] and recorded["bootstrap"] == 100 and recorded["epochs"] == 1
    assert recorded["slurm"] == {"partition": "gpu", "time": "2:00:00"} and "out" not in recorded
    assert json.loads((b / "run.json").read_text())["configuration"] == recorded
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()


def test_open_run_gives_dataframes_and_a_report(runs) -> None:
    run = avbench.open_run(runs[0])
    assert isinstance(run, avbench.Run) and run.complete and run.models == ["ser", "late-fusion"]
    assert run.seeds == [0] and run.corruptions == ["markov"] and Path(run) == runs[0]
    assert list(run.summary.columns[:4]) == ["model", "task", "corruption", "metric"]
    assert set(run.summary["model"]) == {"ser", "late-fusion"}
    assert run.results.equals(pd.read_csv(runs[0] / "results.csv", dtype={"seed": str}))
    predictions = run.predictions
    assert len(predictions) == 2 * 10 * 600  # models × Markov levels × test clips
    emotions = [c for c in predictions.columns if c.startswith("output_")]
    assert len(emotions) == 6 and np.allclose(predictions[emotions].sum(axis=1), 1.0, atol=1e-5)
    with np.load(runs[0] / "predictions" / "ser" / "seed0" / "markov.npz", allow_pickle=False) as data:
        first = predictions[(predictions["model"] == "ser") & (predictions["level"] == str(data["levels"][3]))]
        assert np.allclose(first[emotions].to_numpy(), data["outputs"][3]) and \
            list(first["clip_id"]) == list(data["clip_ids"])
    assert run.record.status == "complete" and run.info is run.record  # RunView's names still answer
    assert run.report() == runs[0] / "report.html" and run.report().stat().st_size > 10_000


def test_library_run_returns_a_run(runs, tmp_path) -> None:
    run = avbench.run(models=["ser"], corruptions=["markov"], bootstrap=100, epochs=1, workers=1,
                      out=tmp_path / "c", progress=False)
    assert isinstance(run, avbench.Run) and run.directory == tmp_path / "c" and run.models == ["ser"]
    mine = run.results[run.results["model"] == "ser"].reset_index(drop=True)
    reference = avbench.open_run(runs[0]).results
    assert mine.equals(reference[reference["model"] == "ser"].reset_index(drop=True))


def test_show_prints_the_run_as_data(runs, cli_output) -> None:
    code, out, _ = cli_output("show", str(runs[0]), "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(avbench.open_run(runs[0]).to_dict()))
    document = json.loads(out)
    assert document["models"] == ["ser", "late-fusion"] and document["summary"][0]["rank"] == 1
    assert document["summary"][0]["effective_robustness"] is None  # a blank cell is null, not ""
    code, out, _ = cli_output("show", str(runs[0]), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0]) == list(pd.read_csv(runs[0] / "summary.csv").columns) and len(rows) == 2
    code, _, err = cli_output("show", str(runs[0]), "--format", "xml")
    assert code == 2 and "unknown --format 'xml'" in err


def test_show_plots_draws_rank_intervals_and_per_class_scores(runs, cli_output) -> None:
    code, out, _ = cli_output("show", str(runs[0]), "--plots")
    plots = runs[0] / "plots"
    assert code == 0 and f"written: {plots / 'ranks-markov-emotion.png'}" in out
    for name in ("ranks-markov-emotion.png", "per-class-emotion.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (plots / name).stat().st_size > 5000


def test_compare_prints_the_comparisons_as_data(runs, cli_output, tmp_path) -> None:
    code, out, err = cli_output("compare", str(runs[0]), str(runs[1]), "--format", "json", "--out",
                                str(tmp_path / "cmp"))
    assert code == 0, err
    comparisons = json.loads(out)  # stdout holds the document alone; "written:" lines go to stderr
    assert {c["model_a"] for c in comparisons} == {"ser", "late-fusion"} and "written:" in err
    levels = comparisons[0]["levels"]
    assert len(levels) == 10 and all(level["difference"] == 0.0 for level in levels)  # a run against its repeat
    assert {"title", "a", "b", "difference", "ci_low", "ci_high", "p"} <= set(comparisons[0]["summary"][0])
    code, out, _ = cli_output("compare", str(runs[0]), str(runs[1]), "--format", "csv", "--out",
                              str(tmp_path / "cmp"))
    assert code == 0 and out == (tmp_path / "cmp" / "compare.csv").read_text()


def test_datasets_info_and_leaderboard_as_data(cli_output, synthetic) -> None:
    code, out, _ = cli_output("datasets", "info", "--dataset", "crema-d", "--root", str(FIXTURES / "crema-d"),
                              "--format", "json")
    corpus = json.loads(out)
    assert code == 0 and corpus["name"] == "crema-d" and corpus["clips"] == sum(n for n, _ in corpus["splits"].values())
    assert set(corpus["media"]) == {"audio", "video"} and {"clips", "of", "splits", "looked_for"} <= set(corpus["media"]["audio"])
    code, out, _ = cli_output("datasets", "info", str(synthetic.path), "--format", "json")
    store = json.loads(out)
    assert code == 0 and store["splits"] == {"train": 700, "dev": 200, "test": 600}
    assert store["modalities"]["audio"]["shape"] == "5x32"
    code, out, _ = cli_output("leaderboard", "--dataset", "msp-podcast", "--format", "json")
    boards = json.loads(out)
    assert code == 0 and {b["dataset"] for b in boards} == {"msp-podcast"}
    row = boards[0]["rows"][0]
    assert row["rank"] == 1 and {"model", "provenance", "paper", "code", "score", "auc", "p_holm", "clean"} <= set(row)
