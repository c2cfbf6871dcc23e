"""The papers' tables and figures reproduced from run results: ``avbench report NAME|all``.

Each report (:mod:`~avbench.reports.raver`, :mod:`~avbench.reports.audiotext`) declares the runs it needs and
builds one artifact in the paper's layout; :mod:`~avbench.reports.produce` finds or runs those runs and writes
Markdown/LaTeX/CSV tables or PNG/PDF figures. Third-party reports register in the ``avbench.reports`` entry-point
group (value ``"package.module:REPORT"``, a :class:`~avbench.reports.base.Report`).
"""
