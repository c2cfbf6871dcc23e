"""Output for people: tables, the terminal, plots, the run report, listings."""
