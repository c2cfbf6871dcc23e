"""``--models all`` on a store that has labels for only some tasks (issue 16, finding 1).

A real corpus without dimensional ratings (CREMA-D) stores NaN attributes. Every model then trains on a task the
store has labels for — the audio-text models default to attributes and switch to emotion — and no model ever
reaches a CCC on NaN targets; a unit that fails says which model, seed and task it was.
"""
from __future__ import annotations

import json
import warnings
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from avbench.errors import UserError
from avbench.models import model_class, names
from avbench.runner import _unit_result, resolve_models
from avbench.data.store import FeatureStore, StoreWriter
from avbench.execution.training import TrainSpec
from avbench.models import task_for


def _store(path: Path, attributes: bool) -> FeatureStore:
    writer = StoreWriter(path, "corpus-like", ["a", "b"], {"audio": {"rate": 50.0, "shape": [1, 4]}})
    for i, split in enumerate(["train", "train", "dev", "dev", "test", "test"]):
        writer.add(f"c{i}", f"s{i // 2}", split, 1.0, {"audio": np.full((5, 1, 4), i)}, labels=np.array([0.75, 0.25]),
                   attributes=np.array([1.0, 2.0, 3.0]) if attributes else None)
    return writer.close()


def test_store_knows_which_tasks_it_has_labels_for(tmp_path):
    assert _store(tmp_path / "emotion", attributes=False).labelled_tasks == ("emotion",)
    assert _store(tmp_path / "both", attributes=True).labelled_tasks == ("emotion", "attributes")


def test_models_default_to_a_task_the_store_has_labels_for(tmp_path):
    emotion_only = _store(tmp_path / "emotion", attributes=False)
    both = _store(tmp_path / "both", attributes=True)
    for name in names():
        cls = model_class(name)
        assert task_for(cls, emotion_only.labelled_tasks) == "emotion"
        assert task_for(cls, both.labelled_tasks) == cls.tasks[0]
    assert task_for(model_class("align-vw-ser"), both.labelled_tasks) == "attributes"
    assert task_for(model_class("align-vw-ser"), emotion_only.labelled_tasks, "attributes") == "attributes"  # asked for


def test_all_keeps_every_model_on_an_emotion_only_store_and_refuses_attributes():
    modalities = {"audio": {}, "video": {}, "text": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no model is skipped: each can do emotion
        assert resolve_models(names(), modalities, None, explicit=False, store_tasks=("emotion",)) == names()
    with pytest.warns(UserWarning, match="cannot be scored on task 'attributes': the dataset has no attributes "
                                         "labels"), pytest.raises(UserError, match="labels for emotion"):
        resolve_models(names(), modalities, "attributes", explicit=False, store_tasks=("emotion",))
    with pytest.raises(UserError, match="model 'align-vw-ser' cannot be scored on task 'attributes'"):
        resolve_models(["align-vw-ser"], modalities, "attributes", explicit=True, store_tasks=("emotion",))


def test_a_failing_unit_names_its_model_seed_and_task(tmp_path):
    store = _store(tmp_path / "emotion", attributes=False)
    future: Future = Future()
    future.set_exception(UserError("labels contain NaN or inf (18 values)"))
    with pytest.raises(UserError, match=r"^train of align-vw-ser \(seed 2, task emotion\) failed: labels contain NaN"):
        _unit_result(future, "train", TrainSpec("align-vw-ser", seed=2), store)


def test_a_failed_run_is_recorded_as_failed_with_its_cause(tmp_path, monkeypatch):
    """A unit that fails inside the grid (here: training refused by a check of its own) names the unit, and run.json
    says ``failed`` rather than staying ``running``. Forcing a task the store has no labels for is refused before
    the grid starts, by the library exactly as by the command line."""
    import avbench.execution.units as units
    from avbench.runner import RunSpec, run

    monkeypatch.setenv("AVBENCH_CACHE", str(tmp_path / "cache"))
    store = _store(tmp_path / "emotion", attributes=False)
    spec = RunSpec(models=["ser"], corruptions=["modality"], dataset=str(store.path), task="attributes", epochs=1,
                   bootstrap=100, out=tmp_path / "refused", workers=1)
    with pytest.raises(UserError, match=r"model 'ser' cannot be scored on task 'attributes'"):
        run(spec, progress=False)
    assert not (tmp_path / "refused").exists()

    def refuse(*args, **kwargs):
        raise UserError("labels contain NaN or inf (18 values)")

    monkeypatch.setattr(units, "load_or_train", refuse)  # one worker: units run in this process
    spec = RunSpec(models=["ser"], corruptions=["modality"], dataset=str(store.path), epochs=1, bootstrap=100,
                   out=tmp_path / "run", workers=1)
    with pytest.raises(UserError, match=r"ser \(seed 0, task emotion\) failed: .*NaN"):
        run(spec, progress=False)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "failed" and "ser (seed 0, task emotion)" in info["error"]
