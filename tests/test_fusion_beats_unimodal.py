"""On `synthetic` with the tiny configs, every audio-visual fusion model beats both unimodal baselines (clean)."""
from __future__ import annotations

import pandas as pd

from avbench.runner import RunSpec, run

FUSION = ["raver", "auxformer", "vavl", "mult", "sfav", "tlstm", "late-fusion"]
UNIMODAL = ["ser", "fer"]


def test_every_fusion_model_beats_the_unimodal_ones(synthetic, tmp_path):
    out = run(RunSpec(models=FUSION + UNIMODAL, corruptions=["modality"], bootstrap=100, out=tmp_path / "run",
                      workers=2), progress=False)
    df = pd.read_csv(out / "results.csv")
    clean = df[(df["seed"] == "mean") & (df["level"] == "none") & (df["metric"] == "macro_f1")]
    f1 = dict(zip(clean["model"], clean["value"]))
    assert min(f1[m] for m in FUSION) > max(f1[m] for m in UNIMODAL), f1
    assert 0.6 < max(f1.values()) < 0.9  # the papers' range, not a trivially separable dataset
