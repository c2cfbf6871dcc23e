"""Registries check their entries' type, every registered model honours the model contract for every task it
declares, and the task and metric registries are what everything else reads."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import avbench.models as models
from avbench.scoring import metrics as metric_specs
from avbench import tasks
from avbench.data.batching import Collator
from avbench.corruptions import REGISTRY as CORRUPTIONS
from avbench.errors import UserError
from avbench.models import EmotionModel, FeatureDims, Recipe
from avbench.registry import Registry

torch.set_num_threads(1)


@pytest.mark.parametrize("name", models.names())
def test_every_registered_model_honours_the_contract(name: str, synthetic) -> None:
    """Class attributes, and for each declared task: outputs of the task's size, finite, and predictions that
    are the task's activation of them."""
    cls = models.model_class(name)
    assert issubclass(cls, EmotionModel) and cls.name == name and cls.paper
    assert cls.modalities and set(cls.modalities) <= set(synthetic.modalities)
    assert set(cls.tasks) <= set(tasks.names())
    assert {"tiny", "paper"} <= set(cls.configs) and all(isinstance(r, Recipe) for r in cls.recipes.values())
    batch = Collator(synthetic, cls.modalities)(synthetic.split_indices("test")[:4])
    dims = FeatureDims({m: tuple(s["shape"]) for m, s in synthetic.modalities.items()})
    for task_name in cls.tasks:
        task = tasks.get(task_name)
        torch.manual_seed(0)
        model = models.get(name, dims=dims, n_outputs=task.n_outputs(synthetic), task=task_name).eval()
        with torch.no_grad():
            raw = model(batch)
            predicted = model.predict(batch)
        assert raw.shape == (4, task.n_outputs(synthetic)) and torch.isfinite(raw).all()
        torch.testing.assert_close(predicted, task.activate(raw))


def test_a_registry_refuses_entries_of_the_wrong_type() -> None:
    registry: Registry[EmotionModel] = Registry("model", entries={"corruption": "avbench.corruptions:masks_for"},
                                                base=EmotionModel)
    with pytest.raises(UserError, match="model 'corruption' is registered as function, not a EmotionModel"):
        registry.get("corruption")
    with pytest.raises(UserError, match="did you mean 'corruption'"):
        registry.get("corruptoin")
    with pytest.raises(UserError, match="is registered as Corruption, not a EmotionModel"):
        models.model_class("avbench.corruptions.modality_drop:MODALITY")
    assert all(isinstance(CORRUPTIONS.get(n), type(CORRUPTIONS.get("markov"))) for n in CORRUPTIONS.names())


def test_each_task_has_one_primary_metric_declared_in_the_metric_registry(synthetic) -> None:
    for name in tasks.names():
        task = tasks.get(name)
        spec = metric_specs.spec(task.primary)
        assert spec.task == task.head and spec.higher_is_better
        assert models.model_class(task.baseline)  # the declared baseline is a registered model
        test = synthetic.split_indices("test")
        targets = task.targets(synthetic, test)
        assert targets.shape == (len(test), task.n_outputs(synthetic)) and targets.dtype == np.float32
        perfect = targets / targets.sum(1, keepdims=True) if task.head == "emotion" else targets
        scores = task.point_scores(targets, perfect, task.names(synthetic))
        assert all(metric_specs.spec(metric) for metric in scores)  # every reported name is declared


def test_metric_registry_gives_names_directions_and_families() -> None:
    assert metric_specs.display(metric_specs.MACRO_F1) == "macro-F1"
    assert not metric_specs.higher_is_better(metric_specs.BRIER)
    assert metric_specs.spec(metric_specs.f1_key("anger")).display == "F1 anger"
    assert metric_specs.is_family_member(metric_specs.ccc_key("valence"))
    assert not metric_specs.is_family_member(metric_specs.CCC_MEAN)
    with pytest.raises(UserError, match="unknown metric 'macro_f2'.*did you mean 'macro_f1'"):
        metric_specs.spec("macro_f2")
    with pytest.raises(ValueError, match="already declared differently"):
        metric_specs.register_metric(metric_specs.BRIER, "Brier", True, "emotion")


def test_a_metric_added_in_one_registration_reaches_point_scores_bootstrap_and_tables() -> None:
    """The README's example: one ``register_metric`` call and the metric is computed, resampled and displayed."""
    from avbench.scoring import metrics, stats

    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.ones(4), size=40)
    probs = rng.dirichlet(np.ones(4), size=40)
    name = metrics.register_metric("hamming_test", "Hamming loss", False, "emotion",
                                   lambda s: (s.fp.sum(-1) + s.fn.sum(-1)) / (s.total * s.n_classes))
    try:
        point = metrics.classification_scores(shares, probs)[name]
        target, predicted = shares > 0.25, probs > 0.25
        assert point == pytest.approx(float(np.mean(target != predicted)))
        low_high = stats.bootstrap_ci(shares, probs, n_resamples=100)[name]
        assert low_high[1] <= point <= low_high[2]
        assert metrics.display(name) == "Hamming loss" and not metrics.higher_is_better(name)
        assert name in metrics.names("emotion")
    finally:
        metrics._METRICS.pop(name)
        metrics._ORDER[:] = [m for m in metrics._ORDER if m.name != name]
