"""The runs a report needs: each :class:`Need` is one ``avbench run`` (models × corruptions × seeds on a dataset),
with the command line that produces it and the run directory ``avbench report all`` keeps it in."""
from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Need:
    """One ``avbench run``: these models (with these overrides) × training protocols × corruptions × seeds on one
    dataset."""

    models: tuple[str, ...]
    corruptions: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    overrides: tuple[tuple[str, Any], ...] = ()
    dataset: str = "synthetic"
    config: str = "tiny"
    split: str = "test"  # "dev" for a report that chooses a configuration, as the papers do
    protocols: tuple[str, ...] = ("recipe",)  # training protocols (avbench.protocols); the recipe alone by default

    @property
    def labels(self) -> list[str]:
        """The result labels of the models: ``raver``, ``raver[n_ctx=16]`` when overridden, ``raver@clean`` under
        another training protocol (as the runner)."""
        from avbench.models import format_label  # deferred: torch (listing reports needs none)

        return [format_label(model, dict(self.overrides), protocol) for model in self.models
                for protocol in self.protocols]

    @property
    def _default_protocols(self) -> bool:
        return self.protocols == ("recipe",)

    @property
    def directory(self) -> str:
        """A stable run-directory name, so ``report all`` finds what it ran before and resumes it."""
        key = json.dumps([self.models, self.corruptions, self.seeds, self.overrides, self.dataset, self.config]
                         + ([self.split] if self.split != "test" else [])
                         + ([] if self._default_protocols else [list(self.protocols)]), default=str)
        dataset = Path(self.dataset).name if "/" in self.dataset else self.dataset
        return f"{dataset}-{'+'.join(self.corruptions)}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"

    def command(self, results: Path, bootstrap: int, epochs: int | None) -> str:
        """The ``avbench run`` command line that produces this run under ``results``."""
        args = ["avbench", "run", "--models", ",".join(self.models), "--corruption", ",".join(self.corruptions),
                "--dataset", self.dataset, "--config", self.config, "--seed-list", ",".join(map(str, self.seeds)),
                "--bootstrap", str(bootstrap)]
        for key, value in self.overrides:
            args += ["--set", f"{key}={value}"]
        if epochs is not None:
            args += ["--epochs", str(epochs)]
        if self.split != "test":
            args += ["--split", self.split]
        if not self._default_protocols:
            args += ["--protocols", ",".join(self.protocols)]
        args += ["--out", str(results / self.directory)]
        return shlex.join(args)

    def spec(self, results: Path, bootstrap: int, epochs: int | None) -> Any:
        from avbench.runner import RunSpec  # deferred: torch

        return RunSpec(models=list(self.models), corruptions=list(self.corruptions), dataset=self.dataset,
                       seeds=list(self.seeds), config=self.config, overrides=dict(self.overrides),
                       bootstrap=bootstrap, out=results / self.directory, epochs=epochs, split=self.split,
                       training_protocols=list(self.protocols))
