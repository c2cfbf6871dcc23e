"""What ``avbench list models|corruptions|datasets|reports`` prints, as a table, JSON or CSV.

Each listing is a list of records with native values (lists stay lists, parameter counts stay integers) so that
``--format json`` carries every column for scripts, as ``pip list --format json`` does; the table and the CSV are
renderings of the same records, never a shortened copy of them.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console

from avbench.errors import unknown
from avbench.output import formats
from avbench.output.terminal import add_plain_row, readable_table

Record = dict[str, Any]


def model_records() -> list[Record]:
    """Name, modalities, tasks, parameter counts of the tiny and paper configs, mask access, source paper."""
    import torch  # deferred: torch

    from avbench.models import REGISTRY, get  # deferred: numpy, pandas, torch

    records = []
    for name in REGISTRY.names():
        cls = REGISTRY.get(name)
        with torch.device("meta"):  # count parameters without allocating the paper-size weights
            tiny, paper = (get(name, config=c).num_parameters() for c in ("tiny", "paper"))
        records.append({"name": name, "modalities": list(cls.modalities), "tasks": list(cls.tasks),
                        "params_tiny": tiny, "params_paper": paper, "sees_masks": bool(cls.sees_masks),
                        "paper": cls.paper})
    return records


def corruption_records() -> list[Record]:
    """Every corruption with all its level labels and x positions, definition and source paper."""
    from avbench.corruptions import describe  # deferred: numpy, pandas

    return [{**row._asdict(), "levels": list(row.levels), "x": list(row.x)} for row in describe()]


def protocol_records() -> list[Record]:
    """Every training protocol: its modality dropout, whether architectures keep their own regulariser, the
    corruption of its training batches, what it trains with and where it comes from."""
    from avbench.protocols import describe  # deferred: torch (the protocols resolve against the model classes)

    return describe()


def dataset_records() -> list[Record]:
    """Embedded datasets and the real corpora ``avbench extract`` turns into feature stores."""
    from avbench.corpora import CORPORA  # deferred: numpy, pandas
    from avbench.data.datasets import EMBEDDED  # deferred: numpy, pandas

    records: list[Record] = [
        {"name": name, "kind": "embedded", "modalities": ["audio", "video", "text"],
         "description": f"embedded, generated on first use ({variant} dimensions)"}
        for name, variant in EMBEDDED.items()]
    records.extend({"name": name, "kind": "corpus", "modalities": list(corpus.modalities),
                    "description": f"{corpus.description} (avbench extract --dataset {name})"}
                   for name, corpus in CORPORA.items())
    return records


def report_records() -> list[Record]:
    """Every paper table and figure ``avbench report`` can regenerate, and the runs it needs."""
    from avbench.reports.commands import list_reports  # deferred: numpy, pandas

    return [row._asdict() for row in list_reports()]


def _flat(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


LISTINGS = {"models": ("avbench models", model_records), "corruptions": ("avbench corruptions", corruption_records),
            "protocols": ("avbench training protocols", protocol_records),
            "datasets": ("avbench datasets", dataset_records), "reports": ("avbench reports", report_records)}
"""What ``avbench list KIND`` lists: its title and where its records come from."""


def render(title: str, records: list[Record], fmt: str, out: Console) -> None:
    """Print ``records`` as a rich table (cells fold, never cut) or in a records format of
    :mod:`avbench.output.formats` (JSON: every column, native types; CSV)."""
    chosen = formats.get(fmt, formats.RECORDS)
    if chosen.name != formats.TERMINAL:
        out.file.write(chosen.records(records))  # type: ignore[misc]
        return
    columns = list(dict.fromkeys(key for record in records for key in record))
    numbers = tuple(c.replace("_", " ") for c in columns
                    if all(isinstance(r.get(c), int) and not isinstance(r.get(c), bool) for r in records))
    table = readable_table(*(c.replace("_", " ") for c in columns), title=title, right=numbers)
    for record in records:
        add_plain_row(table, *(_flat(record.get(c, "")) for c in columns))
    out.print(table)


def list_kind(kind: str, fmt: str, out: Console) -> None:
    """``avbench list KIND``: one listing of :data:`LISTINGS` in ``fmt``."""
    if kind not in LISTINGS:
        raise unknown("list", kind, list(LISTINGS))
    formats.get(fmt, formats.RECORDS)  # checked before the (slower) records are gathered
    title, records = LISTINGS[kind]
    render(title, records(), fmt, out)
