"""Boards as tables (Markdown, CSV, LaTeX) and the generated ``leaderboards/README.md``."""
from __future__ import annotations

from collections.abc import Sequence

from avbench.corruptions import condition_name
from avbench.leaderboards.board import CLEAN_BOARD, Board, Row
from avbench.models import RECIPE
from avbench.scoring.significance import STAR, format_p, level_text, star
from avbench.leaderboards.schema import CLEAN, Entry, MetricValue
from avbench.scoring.metrics import BRIER, display, higher_is_better, is_family_member, spec
from avbench.output import formats
from avbench.output.tables import Cell, Num, Table, bold_best, to_markdown
from avbench.scoring.ranking import rank_text


def _num(value: MetricValue | None, digits: int = 3) -> Num:
    if value is None:
        return Num(None)
    return Num(value.value, value.ci_low, value.ci_high, value.markers, digits)


def _digits(board: Board) -> int:
    return spec(board.metric).digits


def _clean_metric(row: Row, metric: str) -> MetricValue | None:
    """A clean-condition number other than the ranking metric (Brier, per-emotion F1, per-attribute CCC)."""
    found = row.entry.value(*CLEAN, metric)
    if found is None and row.clean is not None:
        found = row.entry.value(row.clean.corruption, row.clean.level, metric)
    return found


def extra_metrics(board: Board) -> list[str]:
    """Clean-condition detail columns: Brier and the per-class metrics (per-emotion F1, per-attribute CCC), in
    first-seen order."""
    seen: dict[str, None] = {BRIER: None}
    for row in board.rows:
        for m in row.entry.metrics:
            if is_family_member(m.metric):
                seen.setdefault(m.metric, None)
    return [m for m in seen if any(_clean_metric(r, m) is not None for r in board.rows)]


def board_title(board: Board) -> str:
    what = "clean test set" if board.corruption == CLEAN_BOARD else f"corruption {board.corruption}"
    metric = display(board.metric)
    shared = board.compared_over
    ranked_by = (f"area under the {metric} curve" if board.sweep else f"clean {metric}"
                 if board.corruption == CLEAN_BOARD or shared in ((), (CLEAN_BOARD,))
                 else f"mean {metric} over {', '.join(condition_name(board.corruption, c) for c in shared)}, "
                      "the conditions that apply to every ranked model")
    trained = "" if board.training == RECIPE else f" · trained: {board.training}"
    return f"{board.dataset} · {board.task}{trained} · {what} (ranked by {ranked_by})"


def _listing(values: Sequence[object]) -> str:
    return ", ".join(map(str, values))


def protocol_line(board: Board) -> str:
    """One sentence per protocol on the board: dataset, split, clips, conditions, seeds and mask seed."""
    protocols = {row.entry.protocol.name: row.entry.protocol for row in board.rows}
    levels = [condition_name(board.corruption, label) for label, _ in board.levels]
    conditions = f"; {board.corruption} levels {_listing(levels)}" if board.corruption != CLEAN_BOARD else ""
    lines = []
    for name, protocol in protocols.items():
        clips = f" ({protocol.n_clips} clips)" if protocol.n_clips else ""
        seeds = f"; seeds {_listing(protocol.seeds)}" if protocol.seeds else "; seeds as in the paper"
        mask_seed = f"; mask seed {protocol.mask_seed}" if protocol.mask_seed is not None else ""
        lines.append(f"Protocol {name}: {protocol.dataset}, {protocol.split} split{clips}{conditions}{seeds}"
                     f"{mask_seed}.")
    return " ".join(lines)


RANK_COLUMNS = ("Rank (95 %)", "P(>top)", "Group")


def seeds_of(entry: Entry) -> str:
    """How many training seeds the entry's numbers average ("–" when the source does not say)."""
    return str(len(entry.protocol.seeds)) if entry.protocol.seeds else "–"


def mask_access(entry: Entry) -> str:
    """"yes"/"no" as the entry records whether the model was told which frames were lost; "–" when unrecorded."""
    return {True: "yes", False: "no"}.get(entry.model.sees_masks, "–")  # type: ignore[arg-type]


def board_table(board: Board) -> Table:
    """The ranked table of one board, with the papers' number layout and a test against the top row."""
    digits = _digits(board)
    columns = ["#", "Model", "Provenance", "Sees masks", "Protocol", "Seeds", f"Clean {display(board.metric)}"]
    level_columns: list[str] = []
    categorical = not board.sweep and board.corruption != CLEAN_BOARD
    if board.sweep:
        columns += ["AUC", "Rel. robustness", "Eff. robustness", "Worst (level)"]
    elif categorical:
        level_columns = [label for label, x in board.levels if x != 0.0]
        shared = ", ".join(condition_name(board.corruption, label) for label in board.compared_over)
        columns += [f"Mean ({shared})", "Own mean", "Eff. robustness"]
        columns += [condition_name(board.corruption, label) for label in level_columns]
    details = extra_metrics(board) if board.corruption == CLEAN_BOARD else [BRIER]
    details = [d for d in details if any(_clean_metric(r, d) is not None for r in board.rows)]
    columns += [display(d) for d in details]
    columns += ["Δ vs top", "p (Holm)", "Test", *RANK_COLUMNS]
    rows: list[list[Cell]] = []
    for row in board.rows:
        cells: list[Cell] = [row.rank if row.rank is not None else "–", row.entry.model.name, row.entry.provenance,
                             mask_access(row.entry), row.entry.protocol.name, seeds_of(row.entry),
                             _num(row.clean, digits)]
        if board.sweep:
            low_high = row.score_ci or (None, None)
            worst = f"{row.worst.value:.{digits}f} ({row.worst.level})" if row.worst else "–"
            cells += [Num(row.auc, low_high[0], low_high[1], digits=digits), Num(row.relative, digits=digits),
                      Num(row.effective, digits=digits), worst]
        elif categorical:
            low_high = row.score_ci or (None, None)
            cells += [Num(row.score, low_high[0], low_high[1], digits=digits), Num(row.auc, digits=digits),
                      Num(row.effective, digits=digits)]
        for label in level_columns:
            cells.append(_num(next((p for p in row.points if p.level == label), None), digits))
        cells += [_num(_clean_metric(row, d), digits) for d in details]
        significant = star(row.p_holm)
        low_high = row.diff_ci or (None, None)
        cells += [Num(row.difference, low_high[0], low_high[1], markers=significant, digits=digits),
                  format_p(row.p_holm), row.test, rank_text(row.rank_interval),
                  Num(row.p_improve, digits=2), row.group or "–"]
        rows.append(cells)
    first_number = 6
    lower = {j for j, d in enumerate(columns) if d in {display(m) for m in details if not higher_is_better(m)}}
    for j in range(first_number, len(columns) - 3 - len(RANK_COLUMNS)):
        if all(not isinstance(r[j], str) for r in rows):
            bold_best(rows, j, lower_is_better=j in lower)
    notes = [protocol_line(board), f"Δ vs top: difference of the ranking score to rank 1, with its interval at its Holm "
             f"level; {STAR} = significant at {level_text()} after Holm correction over every pair of entries on the "
             "board (the interval then excludes 0). Test: seed-aware paired t (seeds and clips) for verified entries "
             "of the same protocol (clips only when both have one seed), otherwise a normal approximation from the two "
             "95 % intervals (unpaired, conservative). Seeds: training seeds the entry averages (a one-seed entry's "
             "intervals cover the test set only). Rank (95 %): 1 + the entries significantly above, to the count "
             "minus those significantly below (the rank intervals of a board hold together). P(>top): probability "
             "that a training run beats one of the top entry on a resampled test set (rliable's probability of "
             "improvement). Group: a new letter where the group's first entry is significantly above."]
    if categorical:
        notes.append("Mean = mean over the conditions that apply to every ranked model (the ranking score); own mean = "
                     "mean over the conditions that apply to that model (the clean one and the loss of a modality it "
                     "uses; losing a modality it never reads changes nothing).")
    notes.append("Sees masks: whether the model was told which frames were lost (all models receive lost frames "
                 "as zero frames); compare models with the same value, or a model with its -masked variant.")
    if any(r.entry.provenance == "reported" for r in board.rows):
        notes.append("reported = numbers copied from the paper (intervals and markers as printed); "
                     "verified = recomputed by avbench from submitted per-clip predictions.")
    return Table(board_title(board), columns, rows, notes)


def render_boards(boards: Sequence[Board], fmt: str) -> str:
    """All boards in one document of a table format (:mod:`avbench.output.formats`)."""
    return formats.get(fmt, formats.TABLES).tables([board_table(b) for b in boards])


README_HEAD = """# avbench leaderboards

*Generated from `leaderboards/entries/*.json` by `avbench leaderboard --format md --out leaderboards/README.md`;
do not edit by hand.*

Every entry is one JSON file per model × dataset × protocol (schema version 1, see `leaderboards/schema.py`):
model name, paper and code, configuration and checkpoint hashes, the protocol (dataset, split, corruption
levels, seeds, mask seed and mask digests), one number per condition with its 95 % interval, and its provenance:

* **reported** — copied from a paper: RAVER (Goncalves et al., IEEE OJSP 2025) Tables 2–4 on CREMA-D and
  MSP-IMPROV, and the audio-text paper (Lin et al., ICMI 2023) Tables 1–2 on MSP-Podcast;
* **verified** — recomputed by `avbench submit` from the per-clip predictions of an `avbench run`, after checking
  the clip ids, targets and corruption masks against the declared protocol.

Boards rank entries of the same dataset and task with the summariser that writes a run's `summary.csv`: a
corruption board by the area under the primary-metric curve (levels with the same x averaged first), a categorical
board (whole modality missing) by the mean over the conditions that apply to every ranked model, the clean board
by the clean score. Every board says how many training seeds each entry averages (*Seeds*); verified entries keep
every seed's scores, so two of them are compared with the seed-aware paired test (retraining and the test set),
every pair of a board as one Holm family, from which come the star against the top, each entry's 95 % rank
interval and the groups of entries not significantly apart. A one-seed entry's intervals cover its test set only.
`avbench verify ENTRY` re-runs a verified entry on your machine and judges agreement against its seed interval.

## Submitting a model

1. Make the model a plugin: an `EmotionModel` subclass registered in the `avbench.models` entry-point group
   (see `leaderboards/example_plugin/`), or name it as `--models package.module:Class`.
2. Run it with five seeds: `avbench run --models your-model --corruption markov,random --dataset synthetic
   --seed-list 0,1,2,3,4 --out runs/mine` (one seed is accepted, and its board row says so).
3. Submit the run: `avbench submit runs/mine [--claimed claimed.csv]`. Every metric is recomputed from the
   predictions; anything that does not match (claimed numbers, clip ids, targets, masks, NaN or out-of-range
   probabilities, missing predictions) is rejected with the reason and nothing is written.
4. Regenerate this page and open a pull request with the new `entries/*.json` file.

"""


def readme(boards: Sequence[Board]) -> str:
    """The Markdown leaderboard page: the explanation above, then every board, grouped by dataset."""
    parts = [README_HEAD]
    current = None
    for board in boards:
        if board.dataset != current:
            current = board.dataset
            parts.append(f"## {current}\n\n")
        parts.append(to_markdown(board_table(board)) + "\n")
    return "".join(parts).rstrip("\n") + "\n"
