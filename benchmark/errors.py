"""User-facing errors.

Every mistake a user can make (unknown name, bad level, missing path) raises :class:`UserError`.
The CLI turns it into one red line and exit code 2, so nobody ever sees a traceback for bad input.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a ' (did you mean X?)' hint, or '' when nothing is close."""
    choices = list(choices)
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=3, cutoff=0.5)
    lookup = {c.lower(): c for c in choices}
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(lookup[c]) for c in close) + "?)"


def unknown(kind: str, name: str, choices: Iterable[str]) -> UserError:
    """Build the standard 'unknown <kind>' error with suggestions and the full list."""
    choices = sorted(choices)
    return UserError(f"unknown {kind} {name!r}{did_you_mean(name, choices)}; choose from: {', '.join(choices)}")
