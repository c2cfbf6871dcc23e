"""``avbench report``: every paper artifact from run directories, missing runs named or run, published numbers
beside reproduced ones.

The runs are made in the exact run-directory format by ``make_run`` (made-up outputs instead of trained models,
so ``report all`` takes seconds); ``avbench.runner.run`` is replaced by a function that writes such a run, which
exercises the whole ``report all`` path — planning, running the missing runs, finding them again — without
training.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import avbench.reports.protocols
import avbench.runner
from avbench.errors import UserError
from avbench.models import model_class
from avbench.reports.base import Settings
from avbench.reports.commands import list_reports, report
from avbench.reports.produce import Options, produce
from avbench.execution.training import TrainSpec
from test_submit import make_run

QUALITY = {"raver": 0.9, "vavl": 0.8, "auxformer": 0.7, "mult": 0.65, "sfav": 0.6, "tlstm": 0.55, "fer": 0.5,
           "ser": 0.5, "mdre-gru": 0.2, "mdrea-gru": 0.25, "align-vw": 0.6, "align-fw": 0.7, "align-multiscalew": 0.95,
           "align-vw-ser": 0.5, "align-fw-ser": 0.6, "align-multiscalew-ser": 0.9, "late-fusion": 0.45}
REPORTS = ("audiotext-fig4", "audiotext-table1", "audiotext-table2", "protocols", "raver-fig2", "raver-fig3",
           "raver-fig5", "raver-table2", "raver-table3", "raver-table4")
TRAINING = {"recipe": 0.0, "clean": -0.05, "modality-dropout": 0.05, "frame-loss": 0.02, "markov-loss": 0.01}


@pytest.fixture(scope="module")
def produced(synthetic, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """``avbench report all --seeds 1`` on an empty results root, with a runner that writes made-up runs."""
    calls = []

    def fake_run(spec, progress: bool = True) -> Path:
        calls.append(spec)
        models = {TrainSpec(m, overrides=spec.overrides, training=p).label:
                  (model_class(m).tasks[0], QUALITY[m] + (TRAINING[p] if m != "raver" else -TRAINING[p]))
                  for m in spec.models for p in spec.training_protocols}
        return make_run(Path(spec.out), synthetic, models, spec.corruptions, spec.seeds, spec.bootstrap,
                        real_digests=False, split=spec.split)

    results = tmp_path_factory.mktemp("results")
    readme = results / "README.md"
    readme.write_text("# avbench\n\nbefore\n<!-- report:protocols -->\nSTALE TEXT\n<!-- /report:protocols -->\nafter\n")
    patch = pytest.MonkeyPatch()
    patch.setattr(avbench.runner, "run", fake_run)
    # the protocols report at a reduced size (three models, RAVER's two random curves): same code, a smaller run
    patch.setattr(avbench.reports.protocols, "MODELS", ("raver", "auxformer", "late-fusion"))
    patch.setattr(avbench.reports.protocols, "CORRUPTIONS", avbench.reports.protocols.RANDOM)
    patch.setattr(avbench.reports.protocols, "PROTOCOLS", ("recipe", "clean", "modality-dropout"))
    app = typer.Typer()
    app.command()(report)
    try:
        arguments = ["all", "--results", str(results), "--seeds", "1", "--bootstrap", "100", "--readme", str(readme)]
        outcome = CliRunner().invoke(app, arguments)
        assert outcome.exit_code == 0, outcome.output
        again = CliRunner().invoke(app, arguments)
        assert again.exit_code == 0, again.output
    finally:
        patch.undo()
    return results, calls


def _md(results: Path, name: str) -> str:
    return (results / "reports" / f"{name}.md").read_text(encoding="utf-8")


def _row(markdown: str, first_cell: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_report_all_runs_each_missing_run_once_and_writes_every_format(produced) -> None:
    results, calls = produced
    # tables 2-4 share a run, table 1 and fig. 4 share one, fig. 2 needs one run per context length, protocols one
    assert len(calls) == 1 + 1 + 1 + 5 + 1 + 1 + 1
    assert [c.training_protocols for c in calls if len(c.training_protocols) > 1] == [
        ["recipe", "clean", "modality-dropout"]]
    assert sorted({c.overrides.get("n_ctx") for c in calls if c.overrides}) == [16, 32, 64, 128, 256]
    # only the context-length sweep chooses a configuration, and it does so on the development split (§IV-F)
    assert {c.split for c in calls if c.overrides} == {"dev"} and {c.split for c in calls if not c.overrides} == {"test"}
    out = results / "reports"
    for name in REPORTS:
        suffixes = (".png", ".pdf", ".csv", ".md") if "fig" in name else (".md", ".tex", ".csv")
        for suffix in suffixes:
            assert (out / f"{name}{suffix}").stat().st_size > 0, f"{name}{suffix}"
        if "fig" in name:
            assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert (out / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
        else:
            assert "\\begin{tabular}" in (out / f"{name}.tex").read_text()


def test_raver_tables_follow_the_paper_layout(produced) -> None:
    results, _ = produced
    table2 = _md(results, "raver-table2")
    order = [line.split(" | ")[0].strip("| ") for line in table2.splitlines() if line.startswith("| ")][1:]
    assert order == ["TLSTM", "SFAV", "MuT", "AuxFormer", "VAVL", "RAVER"]
    run = next(p.parent for p in results.glob("*/run.json") if "modality" in p.parent.name)
    frame = pd.read_csv(run / "results.csv", dtype={"seed": str, "level": str})
    raver = frame[(frame.model == "raver") & (frame.seed == "mean") & (frame.level == "none")
                  & (frame.metric == "macro_f1")].iloc[0]
    assert _row(table2, "RAVER")[1].strip("*") == f"{raver.value:.3f} ({raver.ci_low:.3f}, {raver.ci_high:.3f})"
    assert "Reproduced by avbench on 'synthetic'" in table2
    table3 = list(csv.DictReader(io.StringIO((results / "reports" / "raver-table3.csv").read_text())))
    assert [r["Model"] for r in table3][:2] == ["FER", "SER"]
    assert table3[0]["100% missing video (SER)"] == "" and float(table3[0]["100% missing audio (FER)"]) > 0
    header = _md(results, "raver-table4").splitlines()[2]
    assert header.startswith("| Model | Brier Score | Anger | Sadness | Disgust | Fear | Neutral | Happiness |")


def test_figures_write_the_plotted_numbers(produced) -> None:
    results, _ = produced
    fig2 = pd.read_csv(results / "reports" / "raver-fig2.csv")
    assert fig2["n_ctx"].tolist() == [16, 32, 64, 128, 256]
    run = next(p.parent for p in results.glob("*/run.json") if "raver[n_ctx=64]" in p.read_text())
    assert json.loads((run / "run.json").read_text())["split"] == "dev"
    frame = pd.read_csv(run / "results.csv", dtype={"seed": str})
    levels = frame[(frame.model == "raver[n_ctx=64]") & (frame.seed == "mean") & (frame.metric == "macro_f1")]
    assert fig2.loc[2, "macro_f1"] == pytest.approx(levels["value"].mean())
    fig3 = pd.read_csv(results / "reports" / "raver-fig3.csv")
    assert set(fig3["corruption"]) == {"random-audio", "random-video"} and fig3["model"].nunique() == 6
    fig4 = pd.read_csv(results / "reports" / "audiotext-fig4.csv", keep_default_na=False)
    assert set(fig4["model"]) == {"Align-VW", "Align-FW", "Align-MultiScaleW"}
    assert (fig4[fig4.model == "Align-MultiScaleW"]["markers"] == "*†").any()
    assert (fig4[fig4.model != "Align-MultiScaleW"]["markers"] == "").all()
    assert "Holm over the 60 comparisons marked here" in (results / "reports" / "audiotext-fig4.md").read_text()


def test_audio_text_tables_mark_significance_and_say_the_protocol_was_reduced(produced) -> None:
    """Seed-aware markers by default, Holm over the table's comparisons; the paper's 5 × 5 protocol on request,
    labelled as the paper's and, with fewer seeds, as reduced."""
    results, _ = produced
    table1 = _md(results, "audiotext-table1")
    assert all(r"\*† (" in cell for cell in _row(table1, "Align-MultiScaleW")[1:])
    assert not any(r"\*" in cell for cell in _row(table1, "MDRE-GRU")[1:])
    assert "seed-aware paired test of the CCC (1 seed;" in table1 and "Holm over the 18 comparisons" in table1
    table2 = list(csv.reader(io.StringIO((results / "reports" / "audiotext-table2.csv").read_text())))
    assert len(table2) == 1 + 10 and table2[1][:2] == ["0%", "(0, 1)"]
    paper = Options(results=results, out=results / "paper", settings=Settings(seeds=1, significance="paper"))
    produce("audiotext-table1", paper)
    table1 = (results / "paper" / "audiotext-table1.md").read_text()
    assert all(r"\*† (" in cell for cell in _row(table1, "Align-MultiScaleW")[1:])
    assert "Significance by the paper's protocol: 1 seed × 5 subsets = 5 testing points; reduced by --seeds 1" \
        in table1 and "not corrected for multiple comparisons" in table1


def test_compare_published_puts_paper_numbers_beside(produced) -> None:
    results, _ = produced
    options = Options(results=results, out=results / "compare", settings=Settings(seeds=1), compare_published=True)
    produce("raver-table2", options)
    produce("audiotext-table2", options)
    table2 = (results / "compare" / "raver-table2.md").read_text()
    assert _row(table2, "RAVER")[2] == "0.777 (0.771, 0.782)"  # Macro-F1 (paper, CREMA-D)
    assert _row(table2, "RAVER")[3] == "0.692 (0.683, 0.700)"  # Macro-F1 (paper, MSP-IMPROV)
    rows = list(csv.DictReader(io.StringIO((results / "compare" / "audiotext-table2.csv").read_text())))
    assert rows[0]["Arousal Align-MultiScaleW (paper)"] == "0.612"
    assert rows[0]["Arousal Align-MultiScaleW (paper)_markers"] == "*†"
    fig = produce("raver-fig5", options)
    assert "plot without printed numbers" in fig[-1].read_text()
    assert "plot without printed numbers" not in (results / "reports" / "raver-fig5.md").read_text()


def test_missing_runs_name_the_exact_command(tmp_path: Path) -> None:
    options = Options(results=tmp_path / "empty", out=tmp_path / "out")
    with pytest.raises(UserError) as info:
        produce("raver-fig5", options)
    message = str(info.value)
    assert "avbench run --models tlstm,sfav,mult,auxformer,vavl,raver --corruption markov --dataset synthetic " \
           "--config tiny --seed-list 0 --bootstrap 1000 --out " in message and "--run-missing" in message
    with pytest.raises(UserError, match="unknown report 'raver-table9'.*did you mean"):
        produce("raver-table9", options)


def test_list_reports_describes_every_report() -> None:
    rows = {row.name: row for row in list_reports()}
    assert sorted(rows) == sorted(REPORTS)
    assert rows["audiotext-table1"].runs.endswith("× word_drop × 5 seed(s)")
    assert rows["raver-fig2"].kind == "figure" and "n_ctx=16" in rows["raver-fig2"].runs


def test_protocols_report_answers_the_raver_question_in_its_readme_section(produced) -> None:
    results, _ = produced
    readme = (results / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# avbench\n\nbefore\n<!-- report:protocols -->\n") and readme.endswith(
        "<!-- /report:protocols -->\nafter\n")
    assert "STALE TEXT" not in readme and readme.count("<!-- report:protocols -->") == 1  # rewritten twice, in place
    assert "**The RAVER question.**" in readme and "**Limits of this evidence.**" in readme
    assert "of its recipe margin remains" in readme and "architecture vs training" in readme
    table = list(csv.DictReader(io.StringIO((results / "reports" / "protocols.csv").read_text())))
    assert [r["Model"] for r in table][:2] == ["RAVER", "AuxFormer"]
    raver = table[0]  # made-up outputs: RAVER gets worse with each protocol's bonus, the others better
    assert float(raver["recipe"]) > float(raver["modality-dropout"])
    assert float(table[1]["Δ modality-dropout − clean"]) > 0


def test_a_readme_without_the_markers_is_refused_before_any_run(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# no markers\n")
    options = Options(results=tmp_path / "empty", out=tmp_path / "out", readme=tmp_path / "README.md",
                      run_missing=True)
    with pytest.raises(UserError, match="no generated section for report 'protocols'"):
        produce("protocols", options)
    assert not (tmp_path / "empty").exists()
