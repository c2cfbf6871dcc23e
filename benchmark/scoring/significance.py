"""The significance level and how a p-value is written: one decision for every table, board, comparison and report.

A star (``*``) always means a Holm-corrected p below :data:`ALPHA`; a p-value is always written with
:data:`P_DIGITS` decimals, and below the smallest such value as ``<0.001`` rather than a misleading ``0.000``.
"""
from __future__ import annotations

ALPHA = 0.05
CONFIDENCE = 1.0 - ALPHA  # the two-sided intervals whose exclusion of zero is the same decision
P_DIGITS = 3
STAR = "*"


def significant(p: float | None) -> bool:
    """Is a (Holm-corrected) p below the level? None (no test) never is, nor is NaN."""
    return p is not None and p < ALPHA


def star(p: float | None) -> str:
    """:data:`STAR` for a significant p, else ''."""
    return STAR if significant(p) else ""


def format_p(p: float | None) -> str:
    """``0.068``, ``<0.001``, or ``–`` when there is no test."""
    if p is None or p != p:
        return "–"
    floor = 10.0 ** -P_DIGITS
    return f"<{floor:.{P_DIGITS}f}" if p < floor else f"{p:.{P_DIGITS}f}"


def p_phrase(p: float | None) -> str:
    """``p = 0.068``, ``p < 0.001``, or ``p –``: :func:`format_p` in a sentence."""
    text = format_p(p)
    return f"p {text}" if text == "–" else f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def level_text() -> str:
    """How notes state the level: ``α = 0.05``."""
    return f"α = {ALPHA:g}"
