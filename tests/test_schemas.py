"""Typed records for what others write: leaderboard entries, a store's meta.json, a run's run.json. Each wrong type
is one line naming the file and the field, and `avbench schema` prints the JSON Schema of the check itself."""
from __future__ import annotations

import json
import shutil

import pytest

from avbench.data.store import FeatureStore
from avbench.errors import UserError
from avbench.leaderboards.schema import ENTRIES_DIR, load_entries
from avbench.rundir.record import read_record


def _shipped() -> dict:
    return json.loads(next(iter(sorted(ENTRIES_DIR.glob("*--verified.json")))).read_text())


@pytest.mark.parametrize(("where", "value", "message"), [
    (("protocol", "seeds"), "not-a-list", "field 'protocol.seeds': input should be a valid list (got 'not-a-list')"),
    (("protocol", "n_clips"), "many", "field 'protocol.n_clips': input should be a valid integer (got 'many')"),
    (("model", "paper"), 42, "field 'model.paper': input should be a valid string (got 42)"),
    (("metrics", 0, "value"), 2.0, "field 'metrics.0': value 2.0 of"),
    (("model", "sees_masks"), "yes", "field 'model.sees_masks': input should be a valid boolean"),
    (("model", "eval_path"), "sideways", "field 'model.eval_path': input should be 'folded' or 'honest'"),
    (("model", "checkpoint_hash"), "not hex", "field 'model.checkpoint_hash': string should match pattern"),
])
def test_a_mistyped_entry_is_refused_by_the_board(where, value, message, tmp_path, cli_output) -> None:
    data = _shipped()
    target = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    (tmp_path / "bad.json").write_text(json.dumps(data))
    code, out, err = cli_output("leaderboard", "--entries", str(tmp_path))
    assert code == 2 and f"bad.json: {message}" in err and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_every_shipped_entry_passes() -> None:
    assert len(load_entries()) == len(list(ENTRIES_DIR.glob("*.json")))


def test_a_mistyped_meta_json_names_the_field(synthetic, tmp_path) -> None:
    store = tmp_path / "store"
    shutil.copytree(synthetic.path, store)
    meta = json.loads((store / "meta.json").read_text())
    for change, message in ((("emotions", "anger"), "field 'emotions': input should be a valid list"),
                            (("fingerprint", 5), "field 'fingerprint': input should be a valid string"),
                            (("modalities", {**meta["modalities"], "audio": {**meta["modalities"]["audio"],
                                                                             "dtype": "int8"}}),
                             "field 'modalities.audio.dtype': must be a float dtype"),
                            (("modalities", {"smell": meta["modalities"]["audio"]}), "field 'modalities.smell")):
        (store / "meta.json").write_text(json.dumps({**meta, change[0]: change[1]}))
        with pytest.raises(UserError, match=f"feature store {store}: meta.json: {message}"):
            FeatureStore(store)


def test_a_mistyped_run_json_names_the_field(tmp_path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"status": "complete", "seeds": "0",
                                                   "configuration": {"models": ["ser"]}}))
    with pytest.raises(UserError, match=r"run.json: field 'seeds': input should be a valid list"):
        read_record(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"status": "complete", "configuration": {"slurm": {"mem": 16}}}))
    with pytest.raises(UserError, match=r"field 'configuration.slurm.mem': input should be a valid string"):
        read_record(tmp_path)


@pytest.mark.parametrize("name", ["entry", "meta", "run"])
def test_schema_prints_the_json_schema(name, cli_output) -> None:
    code, out, _ = cli_output("schema", name)
    schema = json.loads(out)
    assert code == 0 and schema["$schema"].endswith("2020-12/schema") and schema["type"] == "object"
    if name == "entry":
        shipped = _shipped()
        assert set(shipped) <= set(schema["properties"]) and schema["additionalProperties"] is False
        assert set(schema["required"]) == {"provenance", "model", "protocol", "metrics"}
        metric = schema["$defs"]["MetricValue"]
        assert metric["properties"]["value"]["type"] == "number" and metric["additionalProperties"] is False
    if name == "meta":
        assert {"name", "fingerprint", "emotions", "modalities"} <= set(schema["required"])
    if name == "run":
        assert {"status", "configuration"} <= set(schema["properties"]) and "RunConfig" in schema["$defs"]
