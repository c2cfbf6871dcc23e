"""Leaderboards: one JSON entry per model × dataset × protocol (``reported`` from a paper or ``verified`` by
recomputation), ranked boards in Markdown/CSV/LaTeX/HTML, and ``avbench submit``.

Modules: :mod:`~avbench.leaderboards.schema` (the entry format), :mod:`~avbench.leaderboards.board` (ranking,
robustness summaries, significance), :mod:`~avbench.leaderboards.render` and :mod:`~avbench.leaderboards.html`
(output), :mod:`~avbench.leaderboards.verify` and :mod:`~avbench.leaderboards.submit` (submissions),
:mod:`~avbench.leaderboards.commands` (the CLI functions).
"""
