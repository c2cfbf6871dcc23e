"""Leaderboard entries (the papers' published numbers), their schema, the ranked boards and their renderings."""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from avbench import models
from avbench.errors import UserError
from avbench.leaderboards.board import build_board, build_boards
from avbench.scoring.ranking import CLIPS_ONLY
from avbench.leaderboards.commands import README, leaderboard, render, submit
from avbench.leaderboards.schema import (
    CLEAN,
    ENTRIES_DIR,
    Entry,
    MetricValue,
    ModelInfo,
    Protocol,
    entry_from_dict,
    entry_path,
    load_entries,
    slug,
    write_entry,
)

PAPERS = Path(__file__).resolve().parents[2] / "shared" / "papers"
RAVER_TXT = PAPERS / "raver-contextual-attention-avER.txt"
AUDIO_TEXT_TXT = PAPERS / "multiscale-chunk-regularization-audio-text.txt"


@pytest.fixture(scope="module")
def shipped() -> dict[tuple[str, str], Entry]:
    return {(e.model.label, e.protocol.dataset): e for e in load_entries()}


def _value(entries: dict[tuple[str, str], Entry], label: str, dataset: str, corruption: str, level: str,
           metric: str) -> tuple[float, float | None, float | None, str]:
    found = entries[(label, dataset)].value(corruption, level, metric)
    assert found is not None, (label, dataset, corruption, level, metric)
    return found.value, found.ci_low, found.ci_high, found.markers


# -- the published numbers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("label", "dataset", "condition", "metric", "expected"), [
    ("raver", "crema-d", CLEAN, "macro_f1", (0.777, 0.771, 0.782, "")),  # RAVER Table 2
    ("vavl", "msp-improv", CLEAN, "micro_f1", (0.749, 0.741, 0.754, "")),
    ("tlstm", "msp-improv", CLEAN, "sample_precision", (0.733, 0.725, 0.741, "")),
    ("sfav", "crema-d", ("modality", "video"), "macro_f1", (0.644, 0.642, 0.645, "")),  # Table 3
    ("fer", "crema-d", ("modality", "audio"), "macro_f1", (0.658, 0.652, 0.665, "")),
    ("ser", "crema-d", ("modality", "video"), "macro_f1", (0.709, 0.703, 0.714, "")),
    ("tlstm", "crema-d", CLEAN, "brier", (0.143, None, None, "")),  # Table 4
    ("raver", "crema-d", CLEAN, "f1_happiness", (0.922, 0.910, 0.932, "")),
    ("mult", "crema-d", CLEAN, "f1_sadness", (0.637, 0.617, 0.656, "")),
    ("align-fw", "msp-podcast", CLEAN, "ccc_valence", (0.5767, None, None, "*†")),  # audio-text Table 1
    ("mdrea-gru", "msp-podcast", CLEAN, "ccc_arousal", (0.6029, None, None, "")),
    ("align-multiscalew", "msp-podcast", CLEAN, "ccc_arousal", (0.6137, None, None, "†")),
    ("align-fw-ser", "msp-podcast", ("markov", "pL0.9-pN0.5"), "ccc_arousal", (0.3805, None, None, "")),  # Table 2
    ("align-multiscalew-ser", "msp-podcast", ("markov", "pL0.9-pN0.1"), "ccc_dominance", (0.2073, None, None, "*")),
    ("align-multiscalew-ser", "msp-podcast", ("markov", "pL0.1-pN0.1"), "ccc_valence", (0.3256, None, None, "")),
    ("align-vw-ser", "msp-podcast", ("markov", "pL0-pN1"), "ccc_arousal", (0.5906, None, None, "")),
])
def test_spot_checked_published_numbers(shipped, label, dataset, condition, metric, expected) -> None:
    assert _value(shipped, label, dataset, *condition, metric) == pytest.approx(expected)


def test_every_paper_table_is_shipped_complete(shipped) -> None:
    reported = [e for e in shipped.values() if e.provenance == "reported"]
    verified = [e for e in shipped.values() if e.provenance == "verified"]
    assert len(reported) == 22  # the papers' tables
    # the default run on synthetic: one verified entry per registered model
    assert sorted(e.model.name for e in verified) == sorted(models.names())
    assert {e.protocol.dataset for e in verified} == {"synthetic"}
    assert sum(len(e.metrics) for e in reported) == 6 * 6 + 14 + 6 * 7 + 5 * 3 + 3 * 30  # Tables 2, 3, 4; 1, 2
    assert {e.protocol.name for e in reported} == {"raver-ojsp2025", "lin-icmi2023"}


_NUM = r"(\d?\.\d+)"
_CELL = re.compile(rf"{_NUM}\s*\({_NUM},\s*{_NUM}\)")
_RAVER_ROWS = {"TLSTM": "tlstm", "SFAV": "sfav", "MuT": "mult", "AuxFormer": "auxformer", "VAVL": "vavl",
               "RAVER": "raver", "FER": "fer", "SER": "ser"}


def _table_rows(lines: list[str], caption: str, names: dict[str, str], count: int) -> list[list[str]]:
    start = next(i for i, line in enumerate(lines) if line.startswith(caption))
    rows = [line.split("\t") for line in lines[start:] if "\t" in line and line.split(" ")[0].split("\t")[0] in names]
    assert len(rows) >= count, f"{caption} has fewer than {count} rows in the paper text"
    return rows[:count]


@pytest.mark.skipif(not RAVER_TXT.exists(), reason="the RAVER paper text is not available on this machine")
def test_raver_tables_match_the_paper_text(shipped) -> None:
    lines = RAVER_TXT.read_text(encoding="utf-8").splitlines()
    metrics = ("macro_f1", "micro_f1", "sample_precision")
    for row in _table_rows(lines, "TABLE 2.", _RAVER_ROWS, 6):
        label = _RAVER_ROWS[row[0].split(" ")[0]]
        for k, cell in enumerate(row[1:7]):
            dataset = "crema-d" if k < 3 else "msp-improv"
            expected = tuple(float(g) for g in _CELL.fullmatch(cell.strip()).groups())
            assert _value(shipped, label, dataset, *CLEAN, metrics[k % 3])[:3] == pytest.approx(expected)
    for row in _table_rows(lines, "TABLE 3.", _RAVER_ROWS, 8):
        label = _RAVER_ROWS[row[0].split(" ")[0]]
        for missing, cell in zip(("audio", "video"), row[1:3]):
            match = _CELL.fullmatch(cell.strip())
            if match is None:
                assert shipped[(label, "crema-d")].value("modality", missing, "macro_f1") is None
                continue
            expected = tuple(float(g) for g in match.groups())
            assert _value(shipped, label, "crema-d", "modality", missing, "macro_f1")[:3] == pytest.approx(expected)
    emotions = ("anger", "sadness", "disgust", "fear", "neutral", "happiness")
    for row in _table_rows(lines, "TABLE 4.", _RAVER_ROWS, 6):
        label = _RAVER_ROWS[row[0].split(" ")[0]]
        assert _value(shipped, label, "crema-d", *CLEAN, "brier")[0] == pytest.approx(float(row[1]))
        for emotion, cell in zip(emotions, row[2:8]):
            expected = tuple(float(g) for g in _CELL.fullmatch(cell.strip()).groups())
            assert _value(shipped, label, "crema-d", *CLEAN, f"f1_{emotion}")[:3] == pytest.approx(expected)


@pytest.mark.skipif(not AUDIO_TEXT_TXT.exists(), reason="the audio-text paper text is not available on this machine")
def test_audio_text_tables_match_the_paper_text(shipped) -> None:
    lines = AUDIO_TEXT_TXT.read_text(encoding="utf-8").splitlines()
    value = re.compile(r"(\d\.\d+)([*†]*)")
    names = {"MDRE-GRU": "mdre-gru", "MDREA-GRU": "mdrea-gru", "Align-VW": "align-vw", "Align-FW": "align-fw",
             "Align-MultiScaleW": "align-multiscalew"}
    table1 = [line.split("\t") for line in lines if line.split(" ")[0].split("\t")[0] in names
              and line.count("\t") == 3]
    assert len(table1) == 5
    for row in table1:
        for attribute, cell in zip(("arousal", "valence", "dominance"), row[1:]):
            number, markers = value.fullmatch(cell.strip()).groups()
            got = _value(shipped, names[row[0].split(" ")[0]], "msp-podcast", *CLEAN, f"ccc_{attribute}")
            assert (got[0], got[3]) == (pytest.approx(float(number)), markers)
    table2 = [line.split("\t") for line in lines if re.match(r"^\d+%\t\(", line)]
    assert len(table2) == 10
    for row in table2:
        p_l, p_n = (float(v) for v in row[1].strip("()").split(", "))
        level = f"pL{p_l:g}-pN{p_n:g}"
        for k, attribute in enumerate(("arousal", "valence", "dominance")):
            for i, label in enumerate(("align-vw-ser", "align-fw-ser", "align-multiscalew-ser")):
                number, markers = value.fullmatch(row[2 + 3 * k + i].strip()).groups()
                got = _value(shipped, label, "msp-podcast", "markov", level, f"ccc_{attribute}")
                assert (got[0], got[3]) == (pytest.approx(float(number)), markers)


def test_shipped_readme_is_regenerated_from_the_entries() -> None:
    assert README.read_text(encoding="utf-8") == render("md"), \
        "run `avbench leaderboard --format md --out leaderboards/README.md`"


# -- schema ------------------------------------------------------------------------------------------------------
def _entry(label: str, points: dict[str, float], provenance: str = "verified", protocol: str = "p1",
           corruption: str = "random-audio", ci: float = 0.01, bootstrap: dict | None = None) -> Entry:
    metrics = [MetricValue(corruption, level, float(level.rstrip("pct")), "macro_f1", v, v - ci, v + ci)
               for level, v in points.items()]
    return Entry(provenance, ModelInfo(label.upper(), label), Protocol(protocol, "synthetic", "emotion"), metrics,
                 bootstrap=bootstrap or {})


def test_schema_round_trip_and_validation(tmp_path: Path) -> None:
    entry = _entry("raver", {"0pct": 0.8, "50pct": 0.6})
    path = write_entry(entry, tmp_path)
    assert load_entries(tmp_path) == [entry] and path.name == "raver--synthetic--p1--verified.json"
    data = json.loads(path.read_text())
    bad = [({**data, "extra": 1}, "unknown field"), ({**data, "provenance": "measured"}, "provenance"),
           ({**data, "schema_version": 2}, "schema_version"), ({**data, "metrics": []}, "field 'metrics': list should have at least 1 item"),
           ({**data, "metrics": [{**data["metrics"][0], "value": "0.8"}]}, "field 'metrics.0.value': input should be a valid number"),
           ({**data, "metrics": [{**data["metrics"][0], "value": 2.0}]}, "value 2.0 of macro_f1 is outside \\[0, 1\\]"),
           ({**data, "protocol": {**data["protocol"], "seeds": "not-a-list"}}, "field 'protocol.seeds': input should be a valid list"),
           ({**data, "protocol": {**data["protocol"], "n_clips": "many"}}, "field 'protocol.n_clips': input should be a valid integer"),
           ({**data, "model": {**data["model"], "paper": 42}}, "field 'model.paper': input should be a valid string"),
           ({**data, "metrics": [{**data["metrics"][0], "ci_low": 0.9}]}, "above ci_high"),
           ({**data, "metrics": data["metrics"] * 2}, "twice"),
           ({**data, "protocol": {**data["protocol"], "task": "valence"}}, "task")]
    for broken, message in bad:
        with pytest.raises(UserError, match=message):
            entry_from_dict(broken)


def test_names_from_submissions_cannot_escape_the_entries_directory(tmp_path: Path) -> None:
    assert "/" not in slug("../../etc/passwd") and not slug("../../etc/passwd").startswith(".")
    assert slug("raver[n_ctx=16]") == "raver-n_ctx-16"
    evil = replace(_entry("x", {"0pct": 0.5}), model=ModelInfo("evil", "../../../../tmp/evil"))
    assert entry_path(evil, tmp_path).parent == tmp_path.resolve()
    with pytest.raises(UserError):
        slug("///")


# -- boards ------------------------------------------------------------------------------------------------------
def test_board_ranks_by_area_and_tests_against_the_top() -> None:
    rng = np.random.default_rng(0)
    top_boot = {"seed": 0, "n_resamples": 200, "scores": {"random-audio": {"auc": (0.7 + 0.01 * rng.normal(size=200)).tolist()}}}
    near = {**top_boot, "scores": {"random-audio": {"auc": (np.array(top_boot["scores"]["random-audio"]["auc"])
                                                           + 0.01 * rng.normal(size=200)).tolist()}}}
    far = {**top_boot, "scores": {"random-audio": {"auc": (np.array(top_boot["scores"]["random-audio"]["auc"])
                                                          - 0.2).tolist()}}}
    entries = [
        _entry("late-fusion", {"0pct": 0.7, "50pct": 0.4, "100pct": 0.3}, bootstrap=far),
        _entry("raver", {"0pct": 0.8, "50pct": 0.7, "100pct": 0.6}, bootstrap=top_boot),
        _entry("vavl", {"0pct": 0.8, "50pct": 0.7, "100pct": 0.59}, bootstrap=near),
        _entry("paper-model", {"0pct": 0.9, "50pct": 0.2, "100pct": 0.1}, provenance="reported", protocol="paper"),
    ]
    board = build_board(entries, "synthetic", "emotion", "random-audio")
    assert [r.entry.model.label for r in board.rows] == ["raver", "vavl", "late-fusion", "paper-model"]
    raver, vavl, late, paper = board.rows
    assert raver.auc == pytest.approx((0.75 * 50 + 0.65 * 50) / 100) and raver.relative == pytest.approx(0.7 / 0.8)
    assert raver.worst.level == "100pct"
    assert vavl.test == late.test == CLIPS_ONLY  # one seed each: the test set only
    assert paper.test == "" and paper.p_holm is None  # a paper's AUC has no interval: no test possible
    assert not vavl.significant and late.significant
    assert late.effective is None  # the baseline itself, as in summary.csv
    assert raver.effective == pytest.approx((0.7 - 0.8) - (0.45 - 0.7))
    assert paper.effective is None  # another protocol: no baseline on it


def test_tied_levels_are_averaged_like_the_runner_summary() -> None:
    metrics = [MetricValue("markov", label, x, "macro_f1", v) for label, x, v in
               [("a", 0.0, 0.8), ("b", 50.0, 0.6), ("c", 50.0, 0.4), ("d", 100.0, 0.2)]]
    entry = Entry("reported", ModelInfo("M", "m"), Protocol("p", "d", "emotion"), metrics)
    (row,) = build_board([entry], "d", "emotion", "markov").rows
    assert row.auc == pytest.approx(((0.8 + 0.5) / 2 * 50 + (0.5 + 0.2) / 2 * 50) / 100)


def test_boards_filter_and_explain_unknown_choices() -> None:
    boards = build_boards(load_entries(), corruption="modality")
    assert [(b.dataset, b.corruption) for b in boards] == [("crema-d", "modality")]
    with pytest.raises(UserError, match="unknown leaderboard dataset 'crema'.*did you mean 'crema-d'"):
        build_boards(load_entries(), dataset="crema")
    with pytest.raises(UserError, match="no entry measured corruption 'random-audio'.*available: clean"):
        build_boards(load_entries(), corruption="random-audio")


# -- renderings and commands -------------------------------------------------------------------------------------
def test_formats_escape_entry_strings(tmp_path: Path) -> None:
    nasty = replace(_entry("x", {"0pct": 0.5, "50pct": 0.4}), model=ModelInfo("A|B_<i>&%$", "x"))
    write_entry(nasty, tmp_path)
    md = render("md", entries=tmp_path)
    assert r"A\|B\_\<i\>&%$" in md and "A|B" not in md
    latex = render("latex", entries=tmp_path)
    assert r"A|B\_\textless{}i\textgreater{}\&\%\$" in latex and r"\begin{tabular}" in latex
    rows = list(csv.reader(io.StringIO(render("csv", entries=tmp_path).split("\n", 1)[1])))
    clean = next(i for i, column in enumerate(rows[0]) if column.startswith("Clean"))
    assert rows[1][1] == "A|B_<i>&%$" and float(rows[1][clean]) == 0.5


def test_boards_show_the_recorded_mask_access(tmp_path: Path) -> None:
    blind = replace(_entry("blind", {"0pct": 0.5, "50pct": 0.4}), model=ModelInfo("blind", "blind", sees_masks=False))
    aware = replace(_entry("aware", {"0pct": 0.6, "50pct": 0.5}), model=ModelInfo("aware", "aware", sees_masks=True,
                                                                                   eval_path="folded"))
    for entry in (blind, aware, _entry("unknown", {"0pct": 0.4, "50pct": 0.3})):
        write_entry(entry, tmp_path)
    rows = list(csv.reader(io.StringIO(render("csv", entries=tmp_path).split("\n", 1)[1])))
    column = rows[0].index("Sees masks")
    assert {r[1]: r[column] for r in rows[1:4]} == {"aware": "yes", "blind": "no", "UNKNOWN": "–"}
    assert load_entries(tmp_path)[0].model.eval_path == "folded"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**aware.to_dict(), "model": {**aware.to_dict()["model"], "eval_path": "leaky"}}))
    with pytest.raises(UserError, match="eval_path"):
        load_entries(tmp_path)


def test_commands_write_and_reject(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("leaderboard")(leaderboard)
    app.command("submit")(submit)
    runner = CliRunner()
    out = tmp_path / "board.tex"
    result = runner.invoke(app, ["leaderboard", "--dataset", "msp-podcast", "--format", "latex", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Align-MultiScaleW" in out.read_text() and "crema-d" not in out.read_text()
    result = runner.invoke(app, ["leaderboard", "--format", "pdf"])
    assert isinstance(result.exception, UserError) and "unknown --format 'pdf'" in str(result.exception)
    before = sorted(ENTRIES_DIR.glob("*.json"))
    result = runner.invoke(app, ["submit", str(tmp_path / "nothing")])
    assert isinstance(result.exception, UserError) and "is not a directory" in str(result.exception)
    assert sorted(ENTRIES_DIR.glob("*.json")) == before  # a rejected submission writes nothing
