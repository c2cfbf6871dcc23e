"""Data: feature stores and their checks, batching, the embedded datasets, realism probes."""
