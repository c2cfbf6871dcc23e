"""Loss as networks cause it, the commands around it: ``avbench datasets traces`` (what a trace folder holds),
``avbench fit-loss`` (Gilbert–Elliott parameters of a trace folder) and ``avbench compare-loss`` (feature-level
masking beside signal-level loss with each concealment, on the same clips, losses and models).

The corruptions themselves live in :mod:`avbench.corruptions` (``trace``, ``gilbert-elliott``), the signal-level
extraction in :mod:`avbench.corpora.signal_loss`.
"""
