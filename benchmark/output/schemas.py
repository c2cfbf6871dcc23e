"""The JSON Schemas avbench publishes for what others write or read: ``avbench schema entry|meta|run``.

Each names the typed record that already checks the file (one definition, so the schema a submitter checks against
is the check avbench makes): a leaderboard entry (:class:`avbench.leaderboards.schema.Entry`), a feature store's
``meta.json`` (:class:`avbench.data.meta.StoreMeta`) and a run's ``run.json``
(:class:`avbench.rundir.record.RunRecord`). The records are named lazily, so listing the choices imports nothing.
"""
from __future__ import annotations

import json
from typing import Any

from avbench.errors import unknown
from avbench.registry import load_object

SCHEMAS = {
    "entry": ("a leaderboard entry (leaderboards/entries/*.json)", "avbench.leaderboards.schema:Entry"),
    "meta": ("a feature store's meta.json", "avbench.data.meta:StoreMeta"),
    "run": ("a run directory's run.json", "avbench.rundir.record:RunRecord"),
}
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the record ``name``."""
    from pydantic import TypeAdapter  # deferred: pydantic

    if name not in SCHEMAS:
        raise unknown("schema", name, SCHEMAS)
    description, target = SCHEMAS[name]
    schema = TypeAdapter(load_object(target)).json_schema()
    return {"$schema": DIALECT, **schema, "title": f"avbench {name}: {description}"}


def json_text(name: str) -> str:
    return json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
