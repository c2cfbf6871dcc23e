"""Output people read, captured through a pipe as a log file or CI job sees it: nothing is ever cut."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from avbench import terminal

LONG = "align-multiscalew-ser"  # the longest registered name: the one an 80-column log used to cut
GRID = ["--models", f"late-fusion,{LONG}", "--corruption", "markov,modality", "--bootstrap", "50", "--epochs", "1"]


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
    grep = [line for line in table.stdout.splitlines() if "align-multiscalew" in line]
    assert len(grep) == 2
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
