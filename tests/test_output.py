"""Output people read, captured through a pipe as a log file or CI job sees it: nothing is ever cut."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from avbench.output import terminal

LONG = "align-multiscalew-ser"  # the longest registered name: the one an 80-column log used to cut
GRID = ["--models", f"late-fusion,{LONG}", "--corruption", "markov,modality", "--bootstrap", "100", "--epochs", "1"]


def avbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real CLI with stdout and stderr on pipes, and a narrow ``$COLUMNS`` that must not narrow anything."""
    full_env = {**os.environ, "COLUMNS": "40", **(env or {})}
    return subprocess.run([sys.executable, "-m", "avbench", *args], capture_output=True, text=True, env=full_env,
                          timeout=600)


@pytest.fixture(scope="module")
def piped_run(tmp_path_factory, session_cache, synthetic) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("piped") / "run"
    result = avbench("run", *GRID, "--out", str(out), "--workers", "2", env={"AVBENCH_PROGRESS_SECONDS": "0"})
    assert result.returncode == 0, result.stderr
    return out, result


def test_run_log_shows_every_name_and_number_in_full(piped_run):
    out, result = piped_run
    assert "…" not in result.stdout and "..." not in result.stdout
    rows = [line for line in result.stdout.splitlines() if LONG in line]
    assert len(rows) == 2  # the markov and the whole-modality tables
    for row in rows:
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells[1] == LONG and all(cells[2:7]), row
    assert "(pL0.9-pN0.1)" in result.stdout or "(pL0.1-pN0.9)" in result.stdout


def test_progress_off_a_terminal_is_plain_lines(piped_run):
    _, result = piped_run
    lines = [line for line in result.stderr.splitlines() if line.startswith("2 trainings + evaluations:")]
    assert lines[0].startswith("2 trainings + evaluations: 0/6 (0 %)")
    assert lines[-1].startswith("2 trainings + evaluations: 6/6 (100 %)")
    assert not any(ch in result.stderr for ch in "━\r\x1b")  # no bar, no carriage returns, no escape codes


def test_plain_progress_prints_at_most_once_per_interval():
    buffer = io.StringIO()
    with terminal.progress(Console(file=buffer), "work", total=1000) as bar:
        for _ in range(1000):
            bar.update(advance=1)
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("work: 0/1000") and lines[-1].startswith("work: 1000/1000 (100 %)")
    assert len(lines) == 2  # first and last: the 30 s interval never elapsed


def test_list_models_in_every_format_names_every_model_in_full():
    from avbench.models import names

    table = avbench("list", "models")
    assert table.returncode == 0 and "…" not in table.stdout
    grep = [line.split("│")[1].strip() for line in table.stdout.splitlines() if "align-multiscalew" in line]
    assert grep == [n for n in names() if "align-multiscalew" in n]  # whole names, as `| grep` needs them
    records = json.loads(avbench("list", "models", "--format", "json").stdout)
    assert [r["name"] for r in records] == names()
    for record in records:
        assert {"name", "modalities", "tasks", "params_tiny", "params_paper", "paper"} <= set(record)
        assert isinstance(record["modalities"], list) and isinstance(record["params_paper"], int)
    rows = list(csv.DictReader(io.StringIO(avbench("list", "models", "--format", "csv").stdout)))
    assert [r["name"] for r in rows] == names() and rows[0]["params_tiny"] == str(records[0]["params_tiny"])


@pytest.mark.parametrize("kind", ["corruptions", "datasets", "reports"])
def test_other_lists_as_json_and_csv_carry_the_same_records(kind: str):
    records = json.loads(avbench("list", kind, "--format", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(avbench("list", kind, "--format", "csv").stdout)))
    assert records and [r["name"] for r in records] == [r["name"] for r in rows]
    assert list(rows[0]) == list(records[0])
    table = avbench("list", kind).stdout
    assert all(value in table for r in records for value in r.values() if isinstance(value, str))  # none cut


def test_list_corruptions_json_has_every_level():
    from avbench import corruptions

    records = {r["name"]: r for r in json.loads(avbench("list", "corruptions", "--format", "json").stdout)}
    for name in corruptions.names():
        assert records[name]["levels"] == [lv.label for lv in corruptions.get(name).levels]


def test_unknown_list_format_is_one_line_and_exit_2():
    result = avbench("list", "models", "--format", "xml")
    assert result.returncode == 2 and "--format" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- show, report.html, compare ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def second_run(piped_run, tmp_path_factory) -> Path:
    """The same protocol with longer training: what a researcher compares after changing a model."""
    out = tmp_path_factory.mktemp("second") / "run"
    result = avbench("run", "--models", "late-fusion", *GRID[2:-1], "2", "--out", str(out), "--workers", "2")
    assert result.returncode == 0, result.stderr
    return out


def test_show_prints_the_tables_again_in_full(piped_run):
    out, run = piped_run
    shown = avbench("show", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "finished" in shown.stdout and "…" not in shown.stdout
    ranked = [line for line in run.stdout.splitlines() if "│" in line]
    assert all(line in shown.stdout for line in ranked)  # the very rows `avbench run` printed
    assert "per-emotion F1" in shown.stdout and "per-attribute CCC" in shown.stdout


def test_show_an_unfinished_run_shows_what_is_done(piped_run, tmp_path):
    out, _ = piped_run
    unfinished = tmp_path / "unfinished"
    shutil.copytree(out, unfinished)
    info = json.loads((unfinished / "run.json").read_text())
    spec = {"models": info["models"], "corruptions": list(info["corruptions"]), "seeds": info["seeds"],
            "bootstrap": info["bootstrap"], "mask_seed": info["mask_seed"], "dataset": info["dataset"],
            "dataset_seed": info["dataset_seed"], "overrides": {}}
    (unfinished / "run.json").write_text(json.dumps({"status": "running", "spec": spec}))
    for name in ("results.csv", "results.parquet", "summary.csv", "report.html"):
        (unfinished / name).unlink()
    (unfinished / "predictions" / LONG / "seed0" / "markov.npz").unlink()
    shown = avbench("show", str(unfinished), "--html")
    assert shown.returncode == 0, shown.stderr
    assert "unfinished, 3 of 4 evaluations done" in shown.stdout
    finished = avbench("show", str(out)).stdout
    done = [line for line in finished.splitlines() if "│" in line and ("late-fusion" in line or "audio missing" in line)]
    assert done and all(line in shown.stdout for line in done)  # the done part reads exactly as the finished run
    assert "markov · attributes" not in shown.stdout
    assert "unfinished: 3 of 4" in (unfinished / "report.html").read_text()


def test_report_page_renders_offline_with_every_curve(piped_run, browser):
    from selenium.webdriver.common.by import By

    out, _ = piped_run
    page = out / "report.html"
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    images = browser.find_elements(By.TAG_NAME, "img")
    assert all(img.get_attribute("src").startswith("data:image/png;base64,") for img in images)
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 100 for img in images)
    curves = browser.find_elements(By.CSS_SELECTOR, "div.ranked figure img")
    assert len(curves) == 4  # markov and modality × emotion and attributes
    assert len(images) == 5  # and the reliability diagram
    body = browser.find_element(By.TAG_NAME, "body").text
    assert LONG in body and "per-emotion F1" in body and "sadness" in body
    assert json.loads((out / "run.json").read_text())["dataset_fingerprint"] in body


def test_compare_two_runs_of_the_same_protocol(piped_run, second_run, tmp_path):
    out, _ = piped_run
    result = avbench("compare", str(out), str(second_run), "--models", "late-fusion", "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    assert "B − A (95 % CI)" in result.stdout and "robustness summary" in result.stdout
    assert "audio missing" in result.stdout and "…" not in result.stdout
    frame = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert set(frame["corruption"]) == {"markov", "modality"} and set(frame["model_a"]) == {"late-fusion"}
    assert (frame["ci_low"] <= frame["difference"] + 1e-12).all() and (frame["difference"] <= frame["ci_high"] + 1e-12).all()
    assert (frame["p_holm"] >= frame["p"] - 1e-12).all() and frame["p_holm"].between(0, 1).all()
    np.testing.assert_allclose(frame["difference"], frame["b"] - frame["a"])
    assert (tmp_path / "cmp" / "late-fusion-vs-late-fusion-markov.png").stat().st_size > 1000
    same = avbench("compare", str(out), str(out), "--models", "late-fusion", "--out", str(tmp_path / "self"))
    self_frame = pd.read_csv(tmp_path / "self" / "compare.csv")
    assert same.returncode == 0 and (self_frame["difference"] == 0).all() and (self_frame["p"] == 1).all()


def test_compare_refuses_other_protocols_and_mismatched_models(piped_run, tmp_path):
    out, _ = piped_run
    other_masks = tmp_path / "masks1"
    run = avbench("run", "--models", "late-fusion", "--corruption", "markov", *GRID[4:], "--out", str(other_masks),
                  "--mask-seed", "1")
    assert run.returncode == 0, run.stderr
    refused = avbench("compare", str(out), str(other_masks))
    assert refused.returncode == 2 and "other masks under markov" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    tasks = avbench("compare", str(out), str(out), "--models", f"late-fusion,{LONG}")
    assert tasks.returncode == 2 and "different tasks" in tasks.stderr
    missing = avbench("compare", str(out), str(tmp_path))
    assert missing.returncode == 2 and "run directory (no run.json)" in missing.stderr
