"""Execution: run units, training, checkpoints, executors, scheduling, the evaluation contract, one model instance
per level (isolation), and ``avbench.evaluate`` (evaluation)."""
