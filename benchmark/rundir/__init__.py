"""The run directory: predictions files, provenance (run.json), results files, a run read back."""
