"""Execution: run units, training, checkpoints, executors, scheduling, the evaluation contract, one model instance
per level (isolation), and ``avbench.evaluate`` (evaluation)."""

THREADS_ENV = "AVBENCH_THREADS"  # torch threads per unit (``avbench --threads``); 1 unless set
PRECISIONS = ("fp32", "bf16")  # numeric precision of training and evaluation (bf16: autocast)
