"""The size and power of the seed-aware paired test, checked by simulation rather than by argument.

``python -m avbench.scoring.null_size`` prints the table the README quotes; ``tests/test_seed_significance.py``
runs a smaller copy of it. Two models are trained with S seeds each and scored on one random test set of N clips;
every clip's score is the sum of

* a difficulty shared by every model (it cancels in a paired difference),
* a model-specific clip effect shared by that model's seeds (the test set's part: ``clip`` below),
* a seed × clip effect (retraining that shows as other errors on the same clips: ``interaction``),
* a per-seed offset (retraining that moves the whole score: ``seed``),

each given as the standard deviation it gives the test-set score. Under the null both models have the same
expected score; a test of the right size then rejects 5 % of the time at α = 0.05. The clip resamples are one
(B, N) count matrix shared by every trial (each trial draws a fresh test set, so sharing them costs nothing), and
every score is a weighted mean of per-clip values, so a regime's thousands of trials are one matrix product.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avbench.scoring.significance import ALPHA
from avbench.scoring.stats import (resample_counts, resample_indices, seed_clip_bootstrap, seed_test_parts,
                                   t_p_value)


@dataclass(frozen=True)
class Regime:
    """Standard deviations, in score units, of the three noise sources of a model's test-set score."""

    name: str
    seed: float
    clip: float
    interaction: float


# The numbers: between-seed SD about 0.01–0.02 of macro-F1 or CCC, 95 % clip intervals about ±0.02.
REGIMES = (
    Regime("seed-dominated", seed=0.010, clip=0.002, interaction=0.0),
    Regime("clip-dominated", seed=0.001, clip=0.010, interaction=0.0),
    Regime("mixed", seed=0.006, clip=0.006, interaction=0.006),
    Regime("retraining on the test set", seed=0.002, clip=0.005, interaction=0.010),
)
# The default run's own noise: the parts (avbench.scoring.noise) of the shipped verified five-seed board of
# `avbench run --models all --corruption markov` (robustness AUC), as avbench.leaderboards.spread.board_noise measures
# them; tests/test_seed_significance.py keeps these in step with the entries. Audio-visual: between-seed SD 0.0128 of
# which seed × clip 0.0059, test-set SD of a paired difference shared by the seeds 0.0060 (0.0042 per model);
# audio-text: 0.0205, 0.0048, 0.0077 (0.0054). These are the regimes the README's power is quoted in.
MEASURED = (
    Regime("default run, audio-visual macro-F1", seed=0.0114, clip=0.0042, interaction=0.0059),
    Regime("default run, audio-text CCC", seed=0.0199, clip=0.0054, interaction=0.0048),
)
SEED_COUNTS = (1, 2, 3, 5, 10)
DIFFICULTY = 0.3  # per-clip SD of the difficulty all models share


def simulate(regime: Regime, n_seeds: int, trials: int, counts: np.ndarray, effect: float, seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed test-set scores (T, 2, S) and their clip resamples (T, 2, S, B) of ``trials`` simulated model
    pairs; model 0 is ``effect`` better in expectation."""
    n_clips = counts.shape[1]
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_seeds, int(regime.seed * 1e6), int(regime.clip * 1e6),
                                                        int(regime.interaction * 1e6)]))
    scale = np.float32(np.sqrt(n_clips))  # a clip-level SD that gives the score (a mean over N clips) the regime's SD
    values = np.zeros((trials, 2, n_seeds, n_clips), np.float32)  # float32: half the time, the same rates
    for shape, sd in (((trials, 1, 1, n_clips), DIFFICULTY), ((trials, 2, 1, n_clips), regime.clip * scale),
                      ((trials, 2, n_seeds, n_clips), regime.interaction * scale), ((trials, 2, n_seeds, 1), regime.seed)):
        if sd:
            values += rng.standard_normal(shape, dtype=np.float32) * np.float32(sd)
    values[:, 0] += np.float32(effect)
    points = values.mean(axis=-1, dtype=np.float64)
    weights = (counts.T / n_clips).astype(np.float32)
    resampled = (values.reshape(-1, n_clips) @ weights).reshape(*values.shape[:-1], counts.shape[0])
    return points, resampled.astype(np.float64)


def rejection_rates(regime: Regime, n_seeds: int, trials: int, n_clips: int = 300, n_resamples: int = 200,
                    effect: float = 0.0, seed: int = 0, alpha: float = ALPHA, hierarchical: bool = True
                    ) -> dict[str, float]:
    """How often each test rejects at ``alpha``: ``seed-aware`` (:func:`avbench.scoring.stats.seed_paired_test`)
    and, with ``hierarchical``, the earlier seeds-then-clips bootstrap
    (:func:`avbench.scoring.stats.seed_clip_bootstrap`)."""
    counts = resample_counts(resample_indices(n_clips, n_resamples, seed), n_clips)
    points, resampled = simulate(regime, n_seeds, trials, counts, effect, seed)
    difference, se, df = seed_test_parts(resampled[:, 0], resampled[:, 1], points[:, 0], points[:, 1])
    aware = t_p_value(difference, se, df) < alpha
    if not hierarchical:
        return {"seed-aware": float(aware.mean())}
    # the hierarchical bootstrap: (S, T, B) per model, the same seed draws for both (paired)
    hierarchical = (seed_clip_bootstrap(np.moveaxis(resampled[:, 0], 1, 0), seed)
                    - seed_clip_bootstrap(np.moveaxis(resampled[:, 1], 1, 0), seed))
    p_hier = np.minimum(1.0, 2.0 * np.minimum((hierarchical <= 0).mean(-1), (hierarchical >= 0).mean(-1)))
    return {"seed-aware": float(aware.mean()), "hierarchical": float((p_hier < alpha).mean())}


def size_table(trials: int, seed_counts: Sequence[int] = SEED_COUNTS, regimes: Sequence[Regime] = REGIMES,
               n_resamples: int = 200, seed: int = 0) -> list[tuple[str, int, dict[str, float]]]:
    """(regime, seeds, rejection rates) under the null for every regime × number of seeds."""
    return [(regime.name, n, rejection_rates(regime, n, trials, n_resamples=n_resamples, seed=seed))
            for regime in regimes for n in seed_counts]


def power_table(trials: int, effects: Sequence[float], seed_counts: Sequence[int] = SEED_COUNTS,
                regime: Regime = MEASURED[0], n_resamples: int = 200, seed: int = 0
                ) -> list[tuple[float, int, float]]:
    """(true gap, seeds, how often the seed-aware test finds it) in one regime."""
    return [(effect, n, rejection_rates(regime, n, trials, n_resamples=n_resamples, effect=effect, seed=seed,
                                        hierarchical=False)["seed-aware"]) for effect in effects for n in seed_counts]


def main(argv: Sequence[str] | None = None) -> None:
    """Print the size table (false-positive rate at α = 0.05 per regime and number of seeds) and the power."""
    parser = argparse.ArgumentParser(prog="python -m avbench.scoring.null_size", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=4000, help="simulated model pairs per cell")
    parser.add_argument("--resamples", type=int, default=200, help="clip resamples per trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.trials < 100 or args.resamples < 50:
        parser.error("--trials must be at least 100 and --resamples at least 50")
    print(f"False-positive rate at α = {ALPHA:g} (equal expected scores; {args.trials} trials per cell, 300 test "
          f"clips, {args.resamples} clip resamples; SE of a rate ≈ {np.sqrt(0.05 * 0.95 / args.trials):.3f}).")
    print("Regime SDs (score units): " + "; ".join(f"{r.name}: seed {r.seed}, clip {r.clip}, seed×clip "
                                                   f"{r.interaction}" for r in (*REGIMES, *MEASURED)))
    print("| regime | seeds | seed-aware t test | hierarchical bootstrap (before) |")
    print("|---|---|---|---|")
    for name, n, rates in size_table(args.trials, regimes=(*REGIMES, *MEASURED), n_resamples=args.resamples,
                                     seed=args.seed):
        print(f"| {name} | {n} | {rates['seed-aware']:.3f} | {rates['hierarchical']:.3f} |")
    effects = (0.01, 0.02, 0.03, 0.04)
    for regime in MEASURED:
        print(f"\nPower of the seed-aware test at α = {ALPHA:g}, {regime.name} (one test, no Holm; with one seed "
              "the size is not controlled, see above):")
        print("| true gap | " + " | ".join(f"{n} seed{'s' if n > 1 else ''}" for n in SEED_COUNTS) + " |")
        print("|---|" + "---|" * len(SEED_COUNTS))
        rows = power_table(args.trials, effects, regime=regime, n_resamples=args.resamples, seed=args.seed)
        for effect in effects:
            print(f"| {effect:.2f} | " + " | ".join(f"{rate:.2f}" for e, _, rate in rows if e == effect) + " |")


if __name__ == "__main__":
    main()
