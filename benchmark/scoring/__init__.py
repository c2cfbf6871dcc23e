"""Scoring: the metric registry and metrics, statistics, robustness summaries, the one summariser."""
