"""Speed and memory of the main job, measured side by side in one process and printed as ratios.

* cold vs warm ``avbench run --models all --corruption markov`` against the 150-second / 20-second targets (warm:
  the best of three runs);
* evaluation cost per extra corruption level, relative to one full forward pass over the test split (the
  frontend is computed once per clip, so an extra level should cost less than a forward pass);
* peak memory of evaluation on a store 4× larger (memory-mapped features, streamed batches: it should stay flat);
* ``avbench speed protocols``: the same main job trained under every training protocol (``--protocols all``),
  cold and warm, against the budget the README states for the protocol grid.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from avbench.output import terminal
from avbench.speed.timing import best_of

console = terminal.console()
COLD_TARGET_S, WARM_TARGET_S = 150.0, 20.0  # on two CPU cores, test split sized for ±0.02 intervals
WARM_REPEATS = 3
# the budget of the protocol grid (every model × every registered training protocol, Markov sweep), on two cores
PROTOCOLS_COLD_TARGET_S, PROTOCOLS_WARM_TARGET_S = 600.0, 90.0


def _run(cache: Path, out: Path, models: str, protocols: str = "recipe") -> None:
    env = {**os.environ, "AVBENCH_CACHE": str(cache)}
    subprocess.run([sys.executable, "-m", "avbench", "run", "--models", models, "--corruption", "markov", "--out",
                    str(out), "--protocols", protocols], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def main_job(models: str = "all", warm_repeats: int = WARM_REPEATS, protocols: str = "recipe",
             targets: tuple[float, float] = (COLD_TARGET_S, WARM_TARGET_S)) -> dict[str, float]:
    """Cold (nothing cached but the dataset), then warm (checkpoints cached, a new run directory each time): the
    best of ``warm_repeats``, the timing rule of every benchmark here, as the warm run is short enough to repeat."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        from avbench.data.datasets import open_dataset  # deferred: numpy, pandas

        os.environ["AVBENCH_CACHE"] = str(cache)
        open_dataset("synthetic")
        cold = best_of(lambda: _run(cache, Path(tmp) / "cold", models, protocols), 1)
        outs = (Path(tmp) / f"warm{i}" for i in range(warm_repeats))
        warm = best_of(lambda: _run(cache, next(outs), models, protocols), warm_repeats)
    return {"cold_s": cold, "warm_s": warm, "cold_target_ratio": cold / targets[0],
            "warm_target_ratio": warm / targets[1]}


def protocol_grid(models: str = "all", protocols: str = "all", warm_repeats: int = 1) -> dict[str, float]:
    """The main job under every training protocol, cold and warm, against the protocol grid's budget; printed."""
    result = main_job(models, warm_repeats, protocols, (PROTOCOLS_COLD_TARGET_S, PROTOCOLS_WARM_TARGET_S))
    table = terminal.readable_table("measurement", "value", "target", right=("value",),
                                    title=f"avbench run --models {models} --corruption markov --protocols {protocols}")
    table.add_row("cold grid (s)", f"{result['cold_s']:.1f}", f"< {PROTOCOLS_COLD_TARGET_S:g}")
    table.add_row(f"warm grid (s), best of {warm_repeats}", f"{result['warm_s']:.1f}",
                  f"< {PROTOCOLS_WARM_TARGET_S:g}")
    console.print(table)
    return result


def per_level_cost(model_name: str = "raver", repeats: int = 3) -> dict[str, float]:
    """Seconds of one forward pass over the test split vs seconds per extra Markov level."""
    import torch  # deferred: torch

    from avbench.data.batching import Collator  # deferred: numpy, pandas, torch
    from avbench.corruptions import get  # deferred: numpy, pandas
    from avbench.data.datasets import open_dataset  # deferred: numpy, pandas
    from avbench.execution.training import TrainSpec, build_model, iterate  # deferred: numpy, pandas, safetensors, torch
    from avbench.execution.units import predict_under_corruption  # deferred: numpy, pandas, safetensors, torch

    torch.set_num_threads(1)
    store = open_dataset("synthetic")
    model = build_model(TrainSpec(model_name), store).eval()
    collator = Collator(store, type(model).modalities)
    test = store.split_indices("test")

    def forward() -> None:
        with torch.no_grad():
            for chunk in iterate(test, 64, None):
                model.predict(collator(chunk))

    markov = get("markov")

    one_forward = best_of(forward, repeats)
    sweep = best_of(lambda: predict_under_corruption(model, store, markov, 0), repeats)
    per_level = sweep / len(markov.levels)
    return {"forward_s": one_forward, "per_level_s": per_level, "per_level_over_forward": per_level / one_forward}


def _peak_rss_eval(n_clips: int) -> float:
    """Peak RSS (MiB) of a fresh process that evaluates late fusion on a synthetic store of ``n_clips``."""
    code = (
        "import resource, tempfile, torch; torch.set_num_threads(1)\n"
        "from avbench.data.synthetic import generate, SyntheticConfig\n"
        "from avbench.execution.training import TrainSpec, build_model\n"
        "from avbench.execution.units import predict_under_corruption\n"
        "from avbench.corruptions import get\n"
        f"store = generate(tempfile.mkdtemp() + '/s', config=SyntheticConfig(n_clips={n_clips}))\n"
        "predict_under_corruption(build_model(TrainSpec('late-fusion'), store), store, get('markov'), 0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def memory(sizes: tuple[int, int] = (600, 2400)) -> dict[str, float]:
    small, large = (_peak_rss_eval(n) for n in sizes)
    return {"peak_mib_small": small, "peak_mib_large": large, "large_over_small": large / small}


def measure(models: str = "all") -> dict[str, dict[str, float]]:
    """Run all three measurements and print one table of ratios."""
    results = {"main job": main_job(models), "per level": per_level_cost(), "memory": memory()}
    table = terminal.readable_table("measurement", "value", "target", right=("value",),
                                    title="avbench run: speed and memory (ratios from this one run)")
    main = results["main job"]
    table.add_row("cold run (s)", f"{main['cold_s']:.1f}", f"< {COLD_TARGET_S:g}")
    table.add_row(f"warm run (s), best of {WARM_REPEATS}", f"{main['warm_s']:.1f}", f"< {WARM_TARGET_S:g}")
    level = results["per level"]
    table.add_row("one extra level / one forward pass", f"{level['per_level_over_forward']:.2f}", "close to ≤ 1")
    mem = results["memory"]
    table.add_row("peak memory, 4× the clips / 1×", f"{mem['large_over_small']:.2f}", "≈ 1 (flat)")
    console.print(table)
    return results
