"""Execution: run units, training, checkpoints, executors, scheduling, the evaluation contract."""
